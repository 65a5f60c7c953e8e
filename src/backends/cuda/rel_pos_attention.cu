// ESPnet relative-position attention (ops/rel_pos_attention.h) for one unpadded sequence: a
// block per (query row, head) holds the row's T scores in shared memory. The encoder runs it once
// per layer over a few hundred frames, so a plain two-pass softmax is enough.

#include <algorithm>
#include <cmath>
#include <string>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device_math.cuh"
#include "backends/cuda/kernels.h"

namespace chatterd::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr std::int64_t kMaxDk = 256;

__global__ void rel_pos_attention_kernel(const float* q, const float* k, const float* v,
                                         const float* p, const float* bias_u, const float* bias_v,
                                         std::int64_t t, std::int64_t dk, float scale, float* out) {
  extern __shared__ float shared[];  // scores[t], then the value partial sums
  __shared__ float qu[kMaxDk];
  __shared__ float qv[kMaxDk];
  __shared__ float scratch[32];
  const std::int64_t i = blockIdx.x;
  const std::int64_t h = blockIdx.y;
  const std::int64_t d = dk * gridDim.y;
  const std::int64_t col = h * dk;
  for (std::int64_t c = threadIdx.x; c < dk; c += blockDim.x) {
    const float qc = q[i * d + col + c];
    qu[c] = qc + bias_u[col + c];
    qv[c] = qc + bias_v[col + c];
  }
  __syncthreads();
  float* scores = shared;
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  float row_max = -INFINITY;
  for (std::int64_t j = warp; j < t; j += kWarps) {
    const float* kj = k + j * d + col;
    const float* pj = p + (t - 1 - i + j) * d + col;  // relative position i - j
    float ac = 0.0f;
    float bd = 0.0f;
    for (std::int64_t c = lane; c < dk; c += 32) {
      ac = fmaf(qu[c], kj[c], ac);
      bd = fmaf(qv[c], pj[c], bd);
    }
    const float s = (detail::warp_sum(ac) + detail::warp_sum(bd)) * scale;
    if (lane == 0) scores[j] = s;
    row_max = fmaxf(row_max, s);
  }
  row_max = detail::block_max(row_max, scratch);  // syncs: every score is written
  float sum = 0.0f;
  for (std::int64_t j = threadIdx.x; j < t; j += blockDim.x) {
    const float e = expf(scores[j] - row_max);
    scores[j] = e;
    sum += e;
  }
  sum = detail::block_sum(sum, scratch);  // syncs: every weight is written
  // Values: thread (g, c) sums keys j = g, g + groups, ... for column c; groups reduce after.
  const std::int64_t groups = blockDim.x / dk;
  const std::int64_t g = threadIdx.x / dk;
  const std::int64_t c = threadIdx.x % dk;
  float acc = 0.0f;
  if (g < groups) {
    for (std::int64_t j = g; j < t; j += groups) acc = fmaf(scores[j], v[j * d + col + c], acc);
  }
  __syncthreads();  // scores are no longer read: reuse the space for the partials
  float* partial = shared;
  if (g < groups) partial[g * dk + c] = acc;
  __syncthreads();
  for (std::int64_t cc = threadIdx.x; cc < dk; cc += blockDim.x) {
    float total = 0.0f;
    for (std::int64_t gg = 0; gg < groups; ++gg) total += partial[gg * dk + cc];
    out[i * d + col + cc] = total / sum;
  }
}

}  // namespace

void rel_pos_attention_f32(StreamHandle stream, const float* q, const float* k, const float* v,
                           const float* p, const float* bias_u, const float* bias_v, std::int64_t t,
                           std::int64_t heads, std::int64_t dk, float* out) {
  if (t == 0) return;
  if (dk < 1 || dk > kMaxDk || heads > 65535 || t > 2147483647) {
    detail::throw_unsupported("rel_pos_attention_f32: d_k " + std::to_string(dk) + ", " +
                              std::to_string(heads) + " heads");
  }
  // The scores row, and later the partial sums (at most kThreads values).
  const std::size_t shared =
      static_cast<std::size_t>(std::max<std::int64_t>(t, kThreads)) * sizeof(float);
  constexpr std::size_t kSharedLimit = 48 * 1024;  // without the opt-in attribute
  if (shared + 2 * kMaxDk * sizeof(float) + 32 * sizeof(float) > kSharedLimit) {
    detail::throw_unsupported("rel_pos_attention_f32: " + std::to_string(t) +
                              " frames exceed one block's shared memory");
  }
  const dim3 grid(static_cast<unsigned>(t), static_cast<unsigned>(heads));
  const float scale = 1.0f / sqrtf(static_cast<float>(dk));
  rel_pos_attention_kernel<<<grid, kThreads, shared, stream>>>(q, k, v, p, bias_u, bias_v, t, dk,
                                                               scale, out);
  detail::check_launch("rel_pos_attention_f32");
}

}  // namespace chatterd::cuda
