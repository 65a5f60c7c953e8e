#include "ops/norm.h"

#include "backends/cpu/row_kernels.h"
#include "ops/cuda_dispatch.h"
#include "ops/row_op_util.h"

namespace chatterd::ops {
namespace {

const float* param(const Tensor* p, std::int64_t d, const Tensor& out, const char* what) {
  if (p == nullptr) return nullptr;
  check_dtype(*p, DType::F32, what);
  check_shape(*p, Shape{d}, what);
  CHATTERD_CHECK(p != &out, InvalidArgument, "{} must not be the output", what);
  return p->data<float>();
}

#ifdef CHATTERD_HAVE_CUDA
const float* device_param(const Tensor* p, std::int64_t d, const Tensor& out, const char* what) {
  if (p == nullptr) return nullptr;
  check_dtype(*p, DType::F32, what);
  check_shape(*p, Shape{d}, what);
  CHATTERD_CHECK(p != &out, InvalidArgument, "{} must not be the output", what);
  return p->device_data<float>();
}
#endif

}  // namespace

void layer_norm(const ExecContext& ctx, const Tensor& x, const Tensor* gamma, const Tensor* beta,
                Tensor& out, float eps) {
  detail::check_f32_input(x, "layer_norm");
  CHATTERD_CHECK(x.rank() >= 1, ShapeError, "layer_norm: x must have a last axis, got {}",
                 x.to_string());
  const std::int64_t d = x.dim(-1);
  if (detail::on_cuda(x)) {
#ifdef CHATTERD_HAVE_CUDA
    auto& dc = detail::cuda_context(ctx, "layer_norm", {gamma, beta});
    const float* g = device_param(gamma, d, out, "layer_norm: gamma");
    const float* b = device_param(beta, d, out, "layer_norm: beta");
    detail::cuda_output(dc, x, out, x.shape(), DType::F32);
    cuda::layer_norm_f32(dc.stream().handle(), x.device_data<float>(), g, b,
                         out.device_data<float>(), d == 0 ? 0 : x.numel() / d, d, eps);
    return;
#else
    detail::no_cuda_build("layer_norm");
#endif
  }
  const float* g = param(gamma, d, out, "layer_norm: gamma");
  const float* b = param(beta, d, out, "layer_norm: beta");
  if (&out != &x) out.resize(x.shape(), DType::F32);
  const auto fn = cpu::row_kernels(ctx.isa).layer_norm;
  detail::for_each_row(ctx, x, out, [=](std::int64_t, const float* in, float* o, std::int64_t n) {
    fn(in, g, b, o, n, eps);
  });
}

void rms_norm(const ExecContext& ctx, const Tensor& x, const Tensor* gamma, Tensor& out,
              float eps) {
  detail::check_f32_input(x, "rms_norm");
  CHATTERD_CHECK(x.rank() >= 1, ShapeError, "rms_norm: x must have a last axis, got {}",
                 x.to_string());
  const std::int64_t d = x.dim(-1);
  if (detail::on_cuda(x)) {
#ifdef CHATTERD_HAVE_CUDA
    auto& dc = detail::cuda_context(ctx, "rms_norm", {gamma});
    const float* g = device_param(gamma, d, out, "rms_norm: gamma");
    detail::cuda_output(dc, x, out, x.shape(), DType::F32);
    cuda::rms_norm_f32(dc.stream().handle(), x.device_data<float>(), g, out.device_data<float>(),
                       d == 0 ? 0 : x.numel() / d, d, eps);
    return;
#else
    detail::no_cuda_build("rms_norm");
#endif
  }
  const float* g = param(gamma, d, out, "rms_norm: gamma");
  if (&out != &x) out.resize(x.shape(), DType::F32);
  const auto fn = cpu::row_kernels(ctx.isa).rms_norm;
  detail::for_each_row(ctx, x, out, [=](std::int64_t, const float* in, float* o, std::int64_t n) {
    fn(in, g, o, n, eps);
  });
}

}  // namespace chatterd::ops
