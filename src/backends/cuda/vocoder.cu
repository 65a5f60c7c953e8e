// Kernels HiFT needs besides conv1d: activations with a parameter (leaky ReLU, ELU, scale, add a
// scalar), Snake with a per-channel alpha, 1-D padding and the transposed conv (a direct gather:
// each output sample sums the few taps that land on it).

#include <algorithm>
#include <string>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels.h"

namespace chatterd::cuda {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(std::int64_t n) {
  return static_cast<unsigned>(std::clamp<std::int64_t>((n + kThreads - 1) / kThreads, 1, 65535));
}

__device__ __forceinline__ float apply(UnaryParamKind kind, float x, float p) {
  switch (kind) {
    case UnaryParamKind::LeakyRelu:
      return x > 0.0f ? x : p * x;
    case UnaryParamKind::Elu:
      return x > 0.0f ? x : p * (expf(fminf(x, 0.0f)) - 1.0f);
    case UnaryParamKind::Scale:
      return x * p;
    case UnaryParamKind::AddScalar:
      return x + p;
  }
  return x;
}

__global__ void unary_param_kernel(UnaryParamKind kind, const float* x, float* out, float p,
                                   std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    out[i] = apply(kind, x[i], p);
  }
}

// x + sin(alpha x)^2 / (alpha + 1e-9), alpha per channel (row r of [*, channels, t]).
__global__ void snake_kernel(const float* x, const float* alpha, float* out, std::int64_t channels,
                             std::int64_t t, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const float a = alpha[(i / t) % channels];
    const float s = sinf(a * x[i]);  // full-range sinf: arguments reach hundreds of radians
    out[i] = fmaf(s * s, 1.0f / (a + 1e-9f), x[i]);
  }
}

__global__ void pad1d_kernel(const float* x, float* out, std::int64_t t, std::int64_t left,
                             std::int64_t t_out, PadKind kind, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t r = i / t_out;
    const std::int64_t j = i % t_out - left;  // input index, possibly outside [0, t)
    const float* xr = x + r * t;
    float v;
    if (j >= 0 && j < t) {
      v = xr[j];
    } else if (kind == PadKind::Zero) {
      v = 0.0f;
    } else if (kind == PadKind::Reflect) {
      v = xr[j < 0 ? -j : 2 * (t - 1) - j];
    } else {
      v = xr[j < 0 ? 0 : t - 1];
    }
    out[i] = v;
  }
}

// out[b, co, o] = bias[co] + sum over the group's inputs ci and taps k with
// o = i * stride + k * dilation - padding of w[ci, co % cog, k] * x[b, ci, i].
__global__ void conv_transpose_kernel(const float* x, const float* w, const float* bias,
                                      ConvTranspose1dShape s, float* out, std::int64_t n) {
  const std::int64_t cig = s.c_in / s.groups;
  const std::int64_t cog = s.c_out / s.groups;
  for (std::int64_t idx = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; idx < n;
       idx += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t o = idx % s.t_out;
    const std::int64_t co = (idx / s.t_out) % s.c_out;
    const std::int64_t b = idx / (s.t_out * s.c_out);
    const std::int64_t g = co / cog;
    const std::int64_t cl = co % cog;
    float acc = bias != nullptr ? bias[co] : 0.0f;
    // Only taps with (o + padding - k * dilation) % stride == 0 land on o. With dilation 1 those
    // are k = (o + padding) % stride + j * stride: every lane of a warp then loops the same
    // number of times instead of idling on the other residues.
    const bool unit = s.dilation == 1;
    const std::int64_t k_first = unit ? (o + s.padding) % s.stride : 0;
    const std::int64_t k_step = unit ? s.stride : 1;
    for (std::int64_t k = k_first; k < s.kernel; k += k_step) {
      const std::int64_t num = o + s.padding - k * s.dilation;
      if (num < 0 || num % s.stride != 0) continue;
      const std::int64_t i = num / s.stride;
      if (i >= s.length) continue;
      for (std::int64_t c = 0; c < cig; ++c) {
        const std::int64_t ci = g * cig + c;
        acc = fmaf(w[(ci * cog + cl) * s.kernel + k], x[(b * s.c_in + ci) * s.length + i], acc);
      }
    }
    out[idx] = acc;
  }
}

}  // namespace

void unary_param_f32(StreamHandle stream, UnaryParamKind kind, const float* x, float* out,
                     std::int64_t n, float param) {
  if (n == 0) return;
  unary_param_kernel<<<grid_for(n), kThreads, 0, stream>>>(kind, x, out, param, n);
  detail::check_launch("unary_param_f32");
}

void snake_f32(StreamHandle stream, const float* x, const float* alpha, float* out,
               std::int64_t rows, std::int64_t channels, std::int64_t t) {
  const std::int64_t n = rows * t;
  if (n == 0) return;
  snake_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, alpha, out, channels, t, n);
  detail::check_launch("snake_f32");
}

void pad1d_f32(StreamHandle stream, const float* x, float* out, std::int64_t rows, std::int64_t t,
               std::int64_t left, std::int64_t right, PadKind kind) {
  const std::int64_t t_out = t + left + right;
  const std::int64_t n = rows * t_out;
  if (n == 0) return;
  if (t == 0 && kind != PadKind::Zero) {
    detail::throw_internal("pad1d_f32: non-zero padding of an empty axis");
  }
  pad1d_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, out, t, left, t_out, kind, n);
  detail::check_launch("pad1d_f32");
}

void conv_transpose1d_f32(StreamHandle stream, const float* x, const float* w, const float* bias,
                          const ConvTranspose1dShape& shape, float* out) {
  const std::int64_t n = shape.batch * shape.c_out * shape.t_out;
  if (n == 0) return;
  conv_transpose_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, w, bias, shape, out, n);
  detail::check_launch("conv_transpose1d_f32");
}

}  // namespace chatterd::cuda
