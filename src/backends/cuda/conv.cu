// 1-D convolution kernels. A dense conv (groups 1) is im2col into "frames x taps" rows followed
// by the shared cuBLASLt GEMM (ops/conv1d.cc), so it runs on tensor cores with bf16 weights like
// every linear; grouped and depthwise convs, rare and small, use a direct kernel.

#include <algorithm>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels.h"

namespace chatterd::cuda {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(std::int64_t n) {
  return static_cast<unsigned>(std::clamp<std::int64_t>((n + kThreads - 1) / kThreads, 1, 65535));
}

// cols[b * To + t, c * K + k] = x[b, c, t * stride + k * dilation - pad_left] (0 outside).
// Consecutive threads write consecutive columns of a row (coalesced writes; the reads of one row
// touch C lines, cached across the K taps).
__global__ void im2col_kernel(const float* x, Conv1dShape s, std::int64_t t_out, float* cols,
                              std::int64_t n) {
  const std::int64_t kc = s.c_in * s.kernel;
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t row = i / kc;
    const std::int64_t col = i % kc;
    const std::int64_t b = row / t_out;
    const std::int64_t t = row % t_out;
    const std::int64_t c = col / s.kernel;
    const std::int64_t k = col % s.kernel;
    const std::int64_t src = t * s.stride + k * s.dilation - s.pad_left;
    cols[i] = src >= 0 && src < s.length ? x[(b * s.c_in + c) * s.length + src] : 0.0f;
  }
}

// One thread per output element: out[b, co, t] = bias[co] + sum over the group's inputs and taps.
__global__ void conv_direct_kernel(const float* x, const float* w, const float* bias, Conv1dShape s,
                                   std::int64_t c_out, std::int64_t t_out, float* out,
                                   std::int64_t n) {
  const std::int64_t cig = s.c_in / s.groups;
  const std::int64_t cog = c_out / s.groups;
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t t = i % t_out;
    const std::int64_t co = (i / t_out) % c_out;
    const std::int64_t b = i / (t_out * c_out);
    const std::int64_t g = co / cog;
    float acc = bias != nullptr ? bias[co] : 0.0f;
    for (std::int64_t ci = 0; ci < cig; ++ci) {
      const float* xr = x + (b * s.c_in + g * cig + ci) * s.length;
      const float* wr = w + (co * cig + ci) * s.kernel;
      for (std::int64_t k = 0; k < s.kernel; ++k) {
        const std::int64_t src = t * s.stride + k * s.dilation - s.pad_left;
        if (src >= 0 && src < s.length) acc = fmaf(wr[k], xr[src], acc);
      }
    }
    out[i] = acc;
  }
}

}  // namespace

void im2col_1d(StreamHandle stream, const float* x, const Conv1dShape& shape, std::int64_t t_out,
               float* cols) {
  const std::int64_t n = shape.batch * t_out * shape.c_in * shape.kernel;
  if (n == 0) return;
  im2col_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, shape, t_out, cols, n);
  detail::check_launch("im2col_1d");
}

void conv1d_direct_f32(StreamHandle stream, const float* x, const float* w, const float* bias,
                       const Conv1dShape& shape, std::int64_t c_out, std::int64_t t_out,
                       float* out) {
  const std::int64_t n = shape.batch * c_out * t_out;
  if (n == 0) return;
  conv_direct_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, w, bias, shape, c_out, t_out, out, n);
  detail::check_launch("conv1d_direct_f32");
}

}  // namespace chatterd::cuda
