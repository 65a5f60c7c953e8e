#include "ops/softmax.h"

#include "backends/cpu/row_kernels.h"
#include "ops/row_op_util.h"

namespace chatterd::ops {

void softmax(const ExecContext& ctx, const Tensor& x, Tensor& out) {
  detail::check_f32_input(x, "softmax");
  if (&out != &x) out.resize(x.shape(), DType::F32);
  const auto fn = cpu::row_kernels(ctx.isa).softmax;
  detail::for_each_row(
      ctx, x, out, [fn](std::int64_t, const float* in, float* o, std::int64_t d) { fn(in, o, d); });
}

void log_softmax(const ExecContext& ctx, const Tensor& x, Tensor& out) {
  detail::check_f32_input(x, "log_softmax");
  if (&out != &x) out.resize(x.shape(), DType::F32);
  const auto fn = cpu::row_kernels(ctx.isa).log_softmax;
  detail::for_each_row(
      ctx, x, out, [fn](std::int64_t, const float* in, float* o, std::int64_t d) { fn(in, o, d); });
}

}  // namespace chatterd::ops
