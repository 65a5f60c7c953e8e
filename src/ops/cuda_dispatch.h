#pragma once
// Internal: how ops hand CUDA tensors to the CUDA backend. An op checks its input's device first;
// CUDA operands go to the backend's kernels (under CHATTERD_HAVE_CUDA), everything else to the
// CPU code below it. Mixed devices and builds without CUDA get errors naming the op.

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

#ifdef CHATTERD_HAVE_CUDA
#include "backends/cuda/context.h"
#include "backends/cuda/kernels.h"
#endif

namespace chatterd::ops::detail {

inline bool on_cuda(const Tensor& t) {
  return t.device() == Device::CUDA;
}

// Throws InvalidArgument unless `t` (when given) lives on the host: a host op whose first operand
// is on the host but another is on the device.
void require_host(const Tensor* t, const char* op);

// Throws Unsupported: "<op>: this build has no CUDA backend".
[[noreturn]] void no_cuda_build(const char* op);

#ifdef CHATTERD_HAVE_CUDA
// The caller's device context (InvalidArgument when the ExecContext has none), after checking
// that every operand given lives on CUDA (null ones are skipped).
cuda::DeviceContext& cuda_context(const ExecContext& ctx, const char* op,
                                  std::initializer_list<const Tensor*> operands);
// Output of an op on CUDA: `out` itself when it is `in` (in place) or already a device tensor of
// that shape/dtype, else a fresh block.
void cuda_output(cuda::DeviceContext& dc, const Tensor& in, Tensor& out, const Shape& shape,
                 DType dtype);
#endif

}  // namespace chatterd::ops::detail
