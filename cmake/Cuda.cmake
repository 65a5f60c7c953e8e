# The CUDA backend: CHATTERD_WITH_CUDA=AUTO (the default) builds it wherever nvcc is found, so CI
# and every developer machine with the toolkit compile it; ON insists, OFF skips. Sets
# CHATTERD_HAVE_CUDA. Binaries link the static CUDA runtime, so they start (and report no device)
# on machines without a driver; cuBLASLt comes from the toolkit. Architectures default to sm_90
# machine code plus compute_90 PTX (H100/H200; newer GPUs JIT the PTX); override with
# -DCMAKE_CUDA_ARCHITECTURES=...
set(CHATTERD_HAVE_CUDA OFF)
if(CHATTERD_WITH_CUDA STREQUAL "AUTO")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(CHATTERD_HAVE_CUDA ON)
  else()
    message(STATUS "chatterd: nvcc not found, building without the CUDA backend")
  endif()
elseif(CHATTERD_WITH_CUDA)
  set(CHATTERD_HAVE_CUDA ON)
endif()

if(CHATTERD_HAVE_CUDA)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES 90)
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  # CMake 3.25 predates nvcc's C++20 support in its tables: teach it the flag.
  if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_COMPILE_FEATURES cuda_std_20)
    list(APPEND CMAKE_CUDA_COMPILE_FEATURES cuda_std_20)
  endif()
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  # Kernels: warnings as errors through nvcc's own switch and the host compiler's.
  add_compile_options("$<$<COMPILE_LANGUAGE:CUDA>:--Werror=all-warnings;-Xcompiler=-Wall,-Wextra>")
  message(STATUS "chatterd: CUDA backend on (${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES})")
endif()
