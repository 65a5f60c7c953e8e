#include "ops/softmax.h"

#include "backends/cpu/row_kernels.h"
#include "ops/cuda_dispatch.h"
#include "ops/row_op_util.h"

namespace chatterd::ops {
namespace {

// Both softmaxes on CUDA tensors; false when x lives on the host.
bool softmax_on_cuda(const ExecContext& ctx, const Tensor& x, Tensor& out, bool log,
                     const char* op) {
  if (!detail::on_cuda(x)) return false;
#ifdef CHATTERD_HAVE_CUDA
  auto& dc = detail::cuda_context(ctx, op, {});
  const std::int64_t d = x.rank() == 0 ? 1 : x.dim(-1);
  detail::cuda_output(dc, x, out, x.shape(), DType::F32);
  cuda::softmax_f32(dc.stream().handle(), x.device_data<float>(), out.device_data<float>(),
                    d == 0 ? 0 : x.numel() / d, d, log);
  return true;
#else
  (void)ctx, (void)out, (void)log;
  detail::no_cuda_build(op);
#endif
}

}  // namespace

void softmax(const ExecContext& ctx, const Tensor& x, Tensor& out) {
  detail::check_f32_input(x, "softmax");
  if (softmax_on_cuda(ctx, x, out, false, "softmax")) return;
  if (&out != &x) out.resize(x.shape(), DType::F32);
  const auto fn = cpu::row_kernels(ctx.isa).softmax;
  detail::for_each_row(
      ctx, x, out, [fn](std::int64_t, const float* in, float* o, std::int64_t d) { fn(in, o, d); });
}

void log_softmax(const ExecContext& ctx, const Tensor& x, Tensor& out) {
  detail::check_f32_input(x, "log_softmax");
  if (softmax_on_cuda(ctx, x, out, true, "log_softmax")) return;
  if (&out != &x) out.resize(x.shape(), DType::F32);
  const auto fn = cpu::row_kernels(ctx.isa).log_softmax;
  detail::for_each_row(
      ctx, x, out, [fn](std::int64_t, const float* in, float* o, std::int64_t d) { fn(in, o, d); });
}

}  // namespace chatterd::ops
