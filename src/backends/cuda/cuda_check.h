#pragma once
// Internal to the CUDA backend (.cc/.cu files only; free of fmt, which nvcc cannot compile): turns
// CUDA runtime and cuBLASLt status codes into chatterd's typed errors, with the failing call named.

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <string>

namespace chatterd::cuda::detail {

// Out-of-memory is Unavailable (a caller may retry with fewer streams); everything else is
// Internal: a CUDA error means a bug or a broken device, not bad user input.
[[noreturn]] void throw_cuda_error(cudaError_t status, const char* what);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* what);

inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) [[unlikely]] {
    throw_cuda_error(status, what);
  }
}

inline void check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) [[unlikely]] {
    throw_cublas_error(status, what);
  }
}

// For .cu files: nvcc cannot evaluate fmt's consteval format strings, so kernels' launchers build
// plain messages and throw through these (defined in a host-compiled file).
[[noreturn]] void throw_unsupported(const std::string& message);
[[noreturn]] void throw_internal(const std::string& message);

// After a kernel launch: launch-configuration errors surface here, not at the next sync.
inline void check_launch(const char* kernel) {
  check(cudaGetLastError(), kernel);
}

}  // namespace chatterd::cuda::detail
