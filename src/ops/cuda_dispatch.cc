#include "ops/cuda_dispatch.h"

#include "core/check.h"

namespace chatterd::ops::detail {

void require_host(const Tensor* t, const char* op) {
  CHATTERD_CHECK(t == nullptr || t->device() == Device::CPU, InvalidArgument,
                 "{}: operands on different devices ({} is on {})", op, t->to_string(),
                 device_name(t->device()));
}

void no_cuda_build(const char* op) {
  CHATTERD_THROW(Unsupported, "{}: CUDA tensors given, but this build has no CUDA backend", op);
}

#ifdef CHATTERD_HAVE_CUDA
cuda::DeviceContext& cuda_context(const ExecContext& ctx, const char* op,
                                  std::initializer_list<const Tensor*> operands) {
  for (const Tensor* t : operands) {
    if (t == nullptr) continue;
    CHATTERD_CHECK(t->device() == Device::CUDA, InvalidArgument,
                   "{}: operands on different devices ({} is on the host)", op, t->to_string());
  }
  CHATTERD_CHECK(ctx.cuda != nullptr, InvalidArgument,
                 "{}: CUDA tensors need an ExecContext with a CUDA device context", op);
  return *ctx.cuda;
}

void cuda_output(cuda::DeviceContext& dc, const Tensor& in, Tensor& out, const Shape& shape,
                 DType dtype) {
  if (&out == &in) {
    CHATTERD_CHECK(out.shape() == shape && out.dtype() == dtype, Internal,
                   "in-place CUDA op changes {} into {}", out.to_string(), shape.to_string());
    return;
  }
  dc.ensure(out, shape, dtype);
}
#endif

}  // namespace chatterd::ops::detail
