#include "ops/activation.h"

#include <algorithm>

#include "backends/cpu/unary_kernels.h"
#include "core/check.h"
#include "ops/cuda_dispatch.h"

namespace chatterd::ops {
namespace {

constexpr std::int64_t kGrain = 16384;

const char* activation_name(Activation kind) {
  switch (kind) {
    case Activation::Relu:
      return "relu";
    case Activation::Gelu:
      return "gelu";
    case Activation::GeluTanh:
      return "gelu_tanh";
    case Activation::Silu:
      return "silu";
    case Activation::Mish:
      return "mish";
    case Activation::Tanh:
      return "tanh";
    case Activation::Sigmoid:
      return "sigmoid";
    case Activation::Exp:
      return "exp";
  }
  return "?";
}

void prepare(const Tensor& x, Tensor& out, const char* op) {
  CHATTERD_CHECK(x.dtype() == DType::F32, DTypeError, "{}: x must be f32, got {}", op,
                 x.to_string());
  if (&out != &x) out.resize(x.shape(), DType::F32);
}

template <class Fn>
void run_flat(const ExecContext& ctx, const Tensor& x, Tensor& out, Fn&& fn) {
  const float* in = x.data<float>();
  float* o = out.data<float>();
  ctx.parallel_for(x.numel(), kGrain,
                   [&](std::int64_t b, std::int64_t e) { fn(in + b, o + b, e - b); });
}

enum class ParamOp { LeakyRelu, Elu, Scale, AddScalar };

// The parameterised activations on a CUDA tensor: true when x lives there (and the op ran).
bool param_op_on_cuda(const ExecContext& ctx, ParamOp kind, const char* op, const Tensor& x,
                      float param, Tensor& out) {
  if (!detail::on_cuda(x)) return false;
#ifdef CHATTERD_HAVE_CUDA
  auto& dc = detail::cuda_context(ctx, op, {});
  CHATTERD_CHECK(x.dtype() == DType::F32, DTypeError, "{}: x must be f32, got {}", op,
                 x.to_string());
  detail::cuda_output(dc, x, out, x.shape(), DType::F32);
  constexpr cuda::UnaryParamKind kKinds[] = {cuda::UnaryParamKind::LeakyRelu,
                                             cuda::UnaryParamKind::Elu, cuda::UnaryParamKind::Scale,
                                             cuda::UnaryParamKind::AddScalar};
  cuda::unary_param_f32(dc.stream().handle(), kKinds[static_cast<int>(kind)],
                        x.device_data<float>(), out.device_data<float>(), x.numel(), param);
  return true;
#else
  (void)ctx, (void)kind, (void)param, (void)out;
  detail::no_cuda_build(op);
#endif
}

}  // namespace

#ifdef CHATTERD_HAVE_CUDA
cuda::UnaryKind cuda_unary(Activation kind) {
  switch (kind) {
    case Activation::Relu:
      return cuda::UnaryKind::Relu;
    case Activation::Gelu:
      return cuda::UnaryKind::Gelu;
    case Activation::GeluTanh:
      return cuda::UnaryKind::GeluTanh;
    case Activation::Silu:
      return cuda::UnaryKind::Silu;
    case Activation::Mish:
      return cuda::UnaryKind::Mish;
    case Activation::Tanh:
      return cuda::UnaryKind::Tanh;
    case Activation::Sigmoid:
      return cuda::UnaryKind::Sigmoid;
    case Activation::Exp:
      return cuda::UnaryKind::Exp;
  }
  CHATTERD_THROW(Internal, "activation: unknown kind {}", static_cast<int>(kind));
}
#endif

void activation(const ExecContext& ctx, Activation kind, const Tensor& x, Tensor& out) {
  if (detail::on_cuda(x)) {
#ifdef CHATTERD_HAVE_CUDA
    auto& dc = detail::cuda_context(ctx, activation_name(kind), {});
    CHATTERD_CHECK(x.dtype() == DType::F32, DTypeError, "{}: x must be f32, got {}",
                   activation_name(kind), x.to_string());
    detail::cuda_output(dc, x, out, x.shape(), DType::F32);
    cuda::unary_f32(dc.stream().handle(), cuda_unary(kind), x.device_data<float>(),
                    out.device_data<float>(), x.numel());
    return;
#else
    detail::no_cuda_build(activation_name(kind));
#endif
  }
  prepare(x, out, activation_name(kind));
  const auto& k = cpu::unary_kernels(ctx.isa);
  cpu::UnaryKernel fn = nullptr;
  switch (kind) {
    case Activation::Relu:
      fn = k.relu;
      break;
    case Activation::Gelu:
      fn = k.gelu;
      break;
    case Activation::GeluTanh:
      fn = k.gelu_tanh;
      break;
    case Activation::Silu:
      fn = k.silu;
      break;
    case Activation::Mish:
      fn = k.mish;
      break;
    case Activation::Tanh:
      fn = k.tanh;
      break;
    case Activation::Sigmoid:
      fn = k.sigmoid;
      break;
    case Activation::Exp:
      fn = k.exp;
      break;
  }
  CHATTERD_CHECK(fn != nullptr, InvalidArgument, "activation: unknown kind {}",
                 static_cast<int>(kind));
  run_flat(ctx, x, out, [fn](const float* in, float* o, std::int64_t n) { fn(in, o, n); });
}

void leaky_relu(const ExecContext& ctx, const Tensor& x, Tensor& out, float slope) {
  if (param_op_on_cuda(ctx, ParamOp::LeakyRelu, "leaky_relu", x, slope, out)) return;
  prepare(x, out, "leaky_relu");
  const auto fn = cpu::unary_kernels(ctx.isa).leaky_relu;
  run_flat(ctx, x, out, [=](const float* in, float* o, std::int64_t n) { fn(in, o, n, slope); });
}

void elu(const ExecContext& ctx, const Tensor& x, Tensor& out, float alpha) {
  if (param_op_on_cuda(ctx, ParamOp::Elu, "elu", x, alpha, out)) return;
  prepare(x, out, "elu");
  const auto fn = cpu::unary_kernels(ctx.isa).elu;
  run_flat(ctx, x, out, [=](const float* in, float* o, std::int64_t n) { fn(in, o, n, alpha); });
}

void scale(const ExecContext& ctx, const Tensor& x, float s, Tensor& out) {
  if (param_op_on_cuda(ctx, ParamOp::Scale, "scale", x, s, out)) return;
  prepare(x, out, "scale");
  const auto fn = cpu::unary_kernels(ctx.isa).scale;
  run_flat(ctx, x, out, [=](const float* in, float* o, std::int64_t n) { fn(in, o, n, s); });
}

void add_scalar(const ExecContext& ctx, const Tensor& x, float s, Tensor& out) {
  if (param_op_on_cuda(ctx, ParamOp::AddScalar, "add_scalar", x, s, out)) return;
  prepare(x, out, "add_scalar");
  const auto fn = cpu::unary_kernels(ctx.isa).add_scalar;
  run_flat(ctx, x, out, [=](const float* in, float* o, std::int64_t n) { fn(in, o, n, s); });
}

void snake(const ExecContext& ctx, const Tensor& x, const Tensor& alpha, Tensor& out) {
  CHATTERD_CHECK(x.rank() == 2 || x.rank() == 3, ShapeError,
                 "snake: x must be [C, T] or [B, C, T], got {}", x.to_string());
  check_dtype(alpha, DType::F32, "snake: alpha");
  const std::int64_t c = x.dim(-2);
  CHATTERD_CHECK(alpha.numel() == c, ShapeError,
                 "snake: alpha {} must hold one value per channel of x {} ({} channels)",
                 alpha.to_string(), x.to_string(), c);
  CHATTERD_CHECK(&out != &alpha, InvalidArgument, "snake: out must not alias alpha");
  if (detail::on_cuda(x)) {
#ifdef CHATTERD_HAVE_CUDA
    auto& dc = detail::cuda_context(ctx, "snake", {&alpha});
    CHATTERD_CHECK(x.dtype() == DType::F32, DTypeError, "snake: x must be f32, got {}",
                   x.to_string());
    detail::cuda_output(dc, x, out, x.shape(), DType::F32);
    const std::int64_t t = x.dim(-1);
    cuda::snake_f32(dc.stream().handle(), x.device_data<float>(), alpha.device_data<float>(),
                    out.device_data<float>(), t == 0 ? 0 : x.numel() / t, c, t);
    return;
#else
    detail::no_cuda_build("snake");
#endif
  }
  detail::require_host(&alpha, "snake");
  prepare(x, out, "snake");
  const std::int64_t t = x.dim(-1);
  const std::int64_t rows = x.numel() == 0 ? 0 : x.numel() / std::max<std::int64_t>(t, 1);
  const float* in = x.data<float>();
  const float* a = alpha.data<float>();
  float* o = out.data<float>();
  const auto fn = cpu::unary_kernels(ctx.isa).snake;
  const std::int64_t grain = std::max<std::int64_t>(1, kGrain / std::max<std::int64_t>(t, 1));
  ctx.parallel_for(rows, grain, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) fn(in + r * t, o + r * t, t, a[r % c]);
  });
}

}  // namespace chatterd::ops
