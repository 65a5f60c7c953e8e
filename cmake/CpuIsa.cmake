# Kernels are written once (templates over a Vec type) and compiled once per instruction set:
# a source named *_avx2.cc gets AVX2+FMA+F16C, *_avx512.cc gets AVX-512 (F/BW/VL/DQ); everything
# else stays at the x86-64 baseline. The choice among them is made at run time (cpu_features.h).
# GCC 12 reports false (maybe-)uninitialized warnings inside its own avx512fintrin.h once those
# intrinsics are inlined, hence those two warnings off for the AVX-512 files under GCC.
function(chatterd_cpu_isa_flags target srcs)
  set(quiet "")
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    set(quiet ";-Wno-maybe-uninitialized;-Wno-uninitialized")
  endif()
  foreach(s ${srcs})
    if(s MATCHES "_avx512\\.cc$")
      set_source_files_properties(${s} TARGET_DIRECTORY ${target} PROPERTIES COMPILE_OPTIONS
        "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx2;-mfma;-mf16c${quiet}")
    elseif(s MATCHES "_avx2\\.cc$")
      set_source_files_properties(${s} TARGET_DIRECTORY ${target} PROPERTIES COMPILE_OPTIONS
        "-mavx2;-mfma;-mf16c")
    endif()
  endforeach()
endfunction()
