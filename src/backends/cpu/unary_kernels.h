#pragma once
// Elementwise f32 activations over contiguous runs. `in` may equal `out` (in place).

#include <cstdint>

#include "backends/cpu/cpu_features.h"

namespace chatterd::cpu {

using UnaryKernel = void (*)(const float* in, float* out, std::int64_t n);
using UnaryParamKernel = void (*)(const float* in, float* out, std::int64_t n, float param);

struct UnaryKernels {
  UnaryKernel relu;
  UnaryKernel gelu;       // exact: 0.5 x (1 + erf(x / sqrt 2))
  UnaryKernel gelu_tanh;  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  UnaryKernel silu;
  UnaryKernel mish;  // x tanh(softplus(x)); softplus(x) = x above 20, as PyTorch
  UnaryKernel tanh;
  UnaryKernel sigmoid;
  UnaryKernel exp;
  UnaryParamKernel leaky_relu;  // param: negative slope
  UnaryParamKernel elu;         // param: alpha
  UnaryParamKernel snake;       // param: alpha; x + sin(alpha x)^2 / (alpha + 1e-9)
  UnaryParamKernel scale;       // x * param
  UnaryParamKernel add_scalar;  // x + param
};

const UnaryKernels& unary_kernels(CpuIsa isa);

}  // namespace chatterd::cpu
