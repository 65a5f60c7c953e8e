#include "backends/cuda/cuda_check.h"

#include "core/check.h"

namespace chatterd::cuda::detail {

void throw_cuda_error(cudaError_t status, const char* what) {
  // Clear the (non-sticky) last error, or the next launch check would report this one again.
  cudaGetLastError();
  if (status == cudaErrorMemoryAllocation) {
    CHATTERD_THROW(Unavailable, "{}: CUDA out of memory", what);
  }
  CHATTERD_THROW(Internal, "{}: CUDA error {} ({})", what, cudaGetErrorName(status),
                 cudaGetErrorString(status));
}

void throw_cublas_error(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_ALLOC_FAILED) {
    CHATTERD_THROW(Unavailable, "{}: cuBLASLt out of memory", what);
  }
  CHATTERD_THROW(Internal, "{}: cuBLASLt error {} ({})", what, cublasLtGetStatusName(status),
                 cublasLtGetStatusString(status));
}

void throw_unsupported(const std::string& message) {
  throw Unsupported(message);
}

void throw_internal(const std::string& message) {
  throw Internal(message);
}

}  // namespace chatterd::cuda::detail
