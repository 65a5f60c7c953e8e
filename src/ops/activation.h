#pragma once
// Elementwise activations on f32 tensors of any shape. out may be x itself (in place).
// Accuracy: see backends/cpu/vec_math.h (tanh/erf/sin rational or polynomial approximations, a
// few ulp; exp about 2 ulp).

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

enum class Activation { Relu, Gelu, GeluTanh, Silu, Mish, Tanh, Sigmoid, Exp };

void activation(const ExecContext& ctx, Activation kind, const Tensor& x, Tensor& out);

inline void relu(const ExecContext& ctx, const Tensor& x, Tensor& out) {
  activation(ctx, Activation::Relu, x, out);
}
// Exact (erf) GELU: torch.nn.GELU().
inline void gelu(const ExecContext& ctx, const Tensor& x, Tensor& out) {
  activation(ctx, Activation::Gelu, x, out);
}
// tanh approximation: GPT-2's "gelu_new", torch.nn.GELU(approximate="tanh").
inline void gelu_tanh(const ExecContext& ctx, const Tensor& x, Tensor& out) {
  activation(ctx, Activation::GeluTanh, x, out);
}
inline void silu(const ExecContext& ctx, const Tensor& x, Tensor& out) {
  activation(ctx, Activation::Silu, x, out);
}
inline void mish(const ExecContext& ctx, const Tensor& x, Tensor& out) {
  activation(ctx, Activation::Mish, x, out);
}
inline void tanh(const ExecContext& ctx, const Tensor& x, Tensor& out) {
  activation(ctx, Activation::Tanh, x, out);
}
inline void sigmoid(const ExecContext& ctx, const Tensor& x, Tensor& out) {
  activation(ctx, Activation::Sigmoid, x, out);
}
inline void exp(const ExecContext& ctx, const Tensor& x, Tensor& out) {
  activation(ctx, Activation::Exp, x, out);
}

// x > 0 ? x : slope * x
void leaky_relu(const ExecContext& ctx, const Tensor& x, Tensor& out, float slope = 0.01f);
// x > 0 ? x : alpha * (exp(x) - 1)
void elu(const ExecContext& ctx, const Tensor& x, Tensor& out, float alpha = 1.0f);
// x * s and x + s
void scale(const ExecContext& ctx, const Tensor& x, float s, Tensor& out);
void add_scalar(const ExecContext& ctx, const Tensor& x, float s, Tensor& out);

// Snake (BigVGAN / HiFi-GAN): x + sin(alpha x)^2 / (alpha + 1e-9), alpha one value per channel.
// x: [C, T] or [B, C, T]; alpha: [C] (a [1, C, 1] parameter may be passed reshaped).
void snake(const ExecContext& ctx, const Tensor& x, const Tensor& alpha, Tensor& out);

}  // namespace chatterd::ops
