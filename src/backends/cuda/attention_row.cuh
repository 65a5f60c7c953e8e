#pragma once
// One (query row, head) of attention, computed by a whole block of kAttentionTile threads: keys
// walked in tiles with an online softmax (flash-decoding's recurrence without the split over
// keys). Scores: one warp per key, lanes over the head dim (coalesced K rows); P.V: one thread per
// output dim with the tile's probabilities in shared memory (coalesced V rows). Shared by the
// single-sequence kernel and the batched decode kernel (which differ in where K/V and the key
// count come from). Every thread of the block must call it (it synchronises).

#include "backends/cuda/device_math.cuh"
#include "backends/cuda/kernels.h"

namespace chatterd::cuda::detail {

constexpr int kAttentionTile = 128;  // keys per tile == threads per block
constexpr int kAttentionDimsPerThread =
    (kAttentionMaxHeadDim + kAttentionTile - 1) / kAttentionTile;

// q_row: the query (f32, d values); k, v: this head's first key/value row, consecutive keys
// `kv_stride` elements apart; keys [0, limit) are candidates, of which mask[j] == 0 are hidden.
// Writes d outputs to out_row (zeros when no key is visible).
template <class KV>
__device__ void attend_row(const float* __restrict__ q_row, const KV* __restrict__ k,
                           const KV* __restrict__ v, std::int64_t kv_stride, std::int64_t limit,
                           const std::uint8_t* __restrict__ mask, std::int64_t d_count, float scale,
                           float* __restrict__ out_row) {
  __shared__ float qs[kAttentionMaxHeadDim];
  __shared__ float p[kAttentionTile];
  __shared__ float scratch[32];
  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid & 31;
  const int warp = tid >> 5;
  for (std::int64_t d = tid; d < d_count; d += kAttentionTile) qs[d] = q_row[d] * scale;
  __syncthreads();

  float m_run = -INFINITY;
  float l_run = 0.0f;
  float acc[kAttentionDimsPerThread];
#pragma unroll
  for (int u = 0; u < kAttentionDimsPerThread; ++u) acc[u] = 0.0f;

  for (std::int64_t t0 = 0; t0 < limit; t0 += kAttentionTile) {
    for (int jj = warp; jj < kAttentionTile; jj += kAttentionTile / 32) {
      const std::int64_t j = t0 + jj;
      float score = -INFINITY;
      if (j < limit && (mask == nullptr || mask[j] != 0)) {
        const KV* krow = k + j * kv_stride;
        float dot = 0.0f;
        for (std::int64_t d = lane; d < d_count; d += 32) dot += qs[d] * to_float(krow[d]);
        score = warp_sum(dot);
      }
      if (lane == 0) p[jj] = score;
    }
    __syncthreads();
    const float tile_max = block_max(p[tid], scratch);
    const float new_m = fmaxf(m_run, tile_max);
    if (new_m == -INFINITY) continue;  // nothing visible yet; every thread takes this branch
    const float corr = m_run == -INFINITY ? 0.0f : __expf(m_run - new_m);
    const float pj = p[tid] == -INFINITY ? 0.0f : __expf(p[tid] - new_m);
    const float tile_sum = block_sum(pj, scratch);  // syncs: every p[] read is done
    p[tid] = pj;
    __syncthreads();
    l_run = l_run * corr + tile_sum;
    m_run = new_m;
    const std::int64_t tile_n = min(std::int64_t{kAttentionTile}, limit - t0);
#pragma unroll
    for (int u = 0; u < kAttentionDimsPerThread; ++u) {
      const std::int64_t d = tid + std::int64_t{u} * kAttentionTile;
      if (d >= d_count) break;
      float a = acc[u] * corr;
      const KV* vcol = v + t0 * kv_stride + d;
      for (std::int64_t jj = 0; jj < tile_n; ++jj) {
        // Masked keys are skipped, not multiplied by 0: their values may be NaN (recycled memory).
        if (p[jj] != 0.0f) a += p[jj] * to_float(vcol[jj * kv_stride]);
      }
      acc[u] = a;
    }
    __syncthreads();  // p[] is rewritten by the next tile
  }
  const float inv = l_run > 0.0f ? 1.0f / l_run : 0.0f;
#pragma unroll
  for (int u = 0; u < kAttentionDimsPerThread; ++u) {
    const std::int64_t d = tid + std::int64_t{u} * kAttentionTile;
    if (d < d_count) out_row[d] = acc[u] * inv;
  }
}

}  // namespace chatterd::cuda::detail
