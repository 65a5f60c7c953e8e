// Row kernels over the last axis: layer norm, RMS norm, softmax. One block per row; the row is
// read twice (statistics, then output), the second time mostly from L1/L2.

#include <algorithm>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device_math.cuh"
#include "backends/cuda/kernels.h"

namespace chatterd::cuda {
namespace {

unsigned threads_for(std::int64_t d) {
  // A warp per 32 values up to 1024 threads; short rows do not waste idle warps.
  return static_cast<unsigned>(std::clamp<std::int64_t>((d + 31) / 32 * 32, 32, 1024));
}

unsigned rows_grid(std::int64_t rows) {
  if (rows > 2147483647) {
    detail::throw_unsupported("cuda row kernels: " + std::to_string(rows) + " rows");
  }
  return static_cast<unsigned>(rows);
}

__global__ void layer_norm_kernel(const float* x, const float* gamma, const float* beta, float* out,
                                  std::int64_t d, float eps) {
  __shared__ float scratch[32];
  const float* row = x + blockIdx.x * d;
  float* o = out + blockIdx.x * d;
  float s = 0.0f;
  for (std::int64_t i = threadIdx.x; i < d; i += blockDim.x) s += row[i];
  const float mean = detail::block_sum(s, scratch) / static_cast<float>(d);
  float v = 0.0f;  // two passes: the variance of centred values does not cancel
  for (std::int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    const float c = row[i] - mean;
    v += c * c;
  }
  const float inv = rsqrtf(detail::block_sum(v, scratch) / static_cast<float>(d) + eps);
  for (std::int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    float y = (row[i] - mean) * inv;
    if (gamma != nullptr) y *= gamma[i];
    if (beta != nullptr) y += beta[i];
    o[i] = y;
  }
}

__global__ void rms_norm_kernel(const float* x, const float* gamma, float* out, std::int64_t d,
                                float eps) {
  __shared__ float scratch[32];
  const float* row = x + blockIdx.x * d;
  float* o = out + blockIdx.x * d;
  float s = 0.0f;
  for (std::int64_t i = threadIdx.x; i < d; i += blockDim.x) s += row[i] * row[i];
  const float inv = rsqrtf(detail::block_sum(s, scratch) / static_cast<float>(d) + eps);
  for (std::int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    const float y = row[i] * inv;
    o[i] = gamma != nullptr ? y * gamma[i] : y;
  }
}

__global__ void softmax_kernel(const float* x, float* out, std::int64_t d, bool log) {
  __shared__ float scratch[32];
  const float* row = x + blockIdx.x * d;
  float* o = out + blockIdx.x * d;
  float m = -INFINITY;
  for (std::int64_t i = threadIdx.x; i < d; i += blockDim.x) m = fmaxf(m, row[i]);
  m = detail::block_max(m, scratch);
  if (m == -INFINITY) {  // nothing visible: zeros (log: -inf), where PyTorch gives NaN
    for (std::int64_t i = threadIdx.x; i < d; i += blockDim.x) o[i] = log ? -INFINITY : 0.0f;
    return;
  }
  float s = 0.0f;
  for (std::int64_t i = threadIdx.x; i < d; i += blockDim.x) s += expf(row[i] - m);
  s = detail::block_sum(s, scratch);
  if (log) {
    const float log_s = logf(s);  // (x - m) - log s, as the CPU: x - (m + log s) loses bits
    for (std::int64_t i = threadIdx.x; i < d; i += blockDim.x) o[i] = (row[i] - m) - log_s;
  } else {
    const float inv = 1.0f / s;
    for (std::int64_t i = threadIdx.x; i < d; i += blockDim.x) o[i] = expf(row[i] - m) * inv;
  }
}

}  // namespace

void layer_norm_f32(StreamHandle stream, const float* x, const float* gamma, const float* beta,
                    float* out, std::int64_t rows, std::int64_t d, float eps) {
  if (rows == 0 || d == 0) return;
  layer_norm_kernel<<<rows_grid(rows), threads_for(d), 0, stream>>>(x, gamma, beta, out, d, eps);
  detail::check_launch("layer_norm_f32");
}

void rms_norm_f32(StreamHandle stream, const float* x, const float* gamma, float* out,
                  std::int64_t rows, std::int64_t d, float eps) {
  if (rows == 0 || d == 0) return;
  rms_norm_kernel<<<rows_grid(rows), threads_for(d), 0, stream>>>(x, gamma, out, d, eps);
  detail::check_launch("rms_norm_f32");
}

void softmax_f32(StreamHandle stream, const float* x, float* out, std::int64_t rows, std::int64_t d,
                 bool log) {
  if (rows == 0 || d == 0) return;
  softmax_kernel<<<rows_grid(rows), threads_for(d), 0, stream>>>(x, out, d, log);
  detail::check_launch("softmax_f32");
}

}  // namespace chatterd::cuda
