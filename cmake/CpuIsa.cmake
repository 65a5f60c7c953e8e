# Kernels are written once (templates over a Vec type) and compiled once per instruction set:
# a source named *_avx2.cc gets AVX2+FMA+F16C, *_avx512.cc gets AVX-512 (F/BW/VL/DQ); everything
# else stays at the x86-64 baseline. (GCC 12 false-positives maybe-uninitialized inside its own
# avx512fintrin.h (maybe-uninitialized and uninitialized), hence those warnings off for those files.) The choice among them is made at run time (cpu_features.h).
function(chatterd_cpu_isa_flags target srcs)
  foreach(s ${srcs})
    if(s MATCHES "_avx512\\.cc$")
      set_source_files_properties(${s} TARGET_DIRECTORY ${target} PROPERTIES COMPILE_OPTIONS
        "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx2;-mfma;-mf16c;-Wno-maybe-uninitialized;-Wno-uninitialized")
    elseif(s MATCHES "_avx2\\.cc$")
      set_source_files_properties(${s} TARGET_DIRECTORY ${target} PROPERTIES COMPILE_OPTIONS
        "-mavx2;-mfma;-mf16c")
    endif()
  endforeach()
endfunction()
