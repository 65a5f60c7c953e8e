// Attention for one sequence: a block per (query row, head) walks the keys in tiles of kTile with
// an online softmax (flash-decoding's recurrence without the split over keys, which comes with the
// batched decode kernel). Scores: one warp per key, lanes over the head dim (coalesced K rows);
// P.V: one thread per output dim, a tile's probabilities from shared memory (coalesced V rows).

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device_math.cuh"
#include "backends/cuda/kernels.h"

namespace chatterd::cuda {
namespace {

constexpr int kTile = 128;  // keys per tile == threads per block
constexpr int kDimsPerThread = (kAttentionMaxHeadDim + kTile - 1) / kTile;

template <class KV>
__global__ void __launch_bounds__(kTile)
    attention_kernel(AttentionShape s, const float* __restrict__ q, const KV* __restrict__ k,
                     const KV* __restrict__ v, const std::uint8_t* __restrict__ mask,
                     float* __restrict__ out) {
  __shared__ float qs[kAttentionMaxHeadDim];
  __shared__ float p[kTile];
  __shared__ float scratch[32];
  const std::int64_t h = blockIdx.x;
  const std::int64_t i = blockIdx.y;
  const std::int64_t kvh = h / (s.hq / s.hkv);
  const std::int64_t d_count = s.d;
  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const float* qrow = q + (i * s.hq + h) * d_count;
  for (std::int64_t d = tid; d < d_count; d += kTile) qs[d] = qrow[d] * s.scale;
  __syncthreads();

  std::int64_t limit = s.tk;
  if (s.causal) limit = min(limit, max(std::int64_t{0}, s.q_offset + i + 1));
  const std::int64_t kv_stride = s.hkv * d_count;  // between consecutive keys
  float m_run = -INFINITY;
  float l_run = 0.0f;
  float acc[kDimsPerThread];
#pragma unroll
  for (int u = 0; u < kDimsPerThread; ++u) acc[u] = 0.0f;

  for (std::int64_t t0 = 0; t0 < limit; t0 += kTile) {
    for (int jj = warp; jj < kTile; jj += kTile / 32) {
      const std::int64_t j = t0 + jj;
      float score = -INFINITY;
      if (j < limit && (mask == nullptr || mask[j] != 0)) {
        const KV* krow = k + j * kv_stride + kvh * d_count;
        float dot = 0.0f;
        for (std::int64_t d = lane; d < d_count; d += 32) dot += qs[d] * detail::to_float(krow[d]);
        score = detail::warp_sum(dot);
      }
      if (lane == 0) p[jj] = score;
    }
    __syncthreads();
    const float tile_max = detail::block_max(p[tid], scratch);
    const float new_m = fmaxf(m_run, tile_max);
    if (new_m == -INFINITY) continue;  // nothing visible yet; every thread takes this branch
    const float corr = m_run == -INFINITY ? 0.0f : __expf(m_run - new_m);
    const float pj = p[tid] == -INFINITY ? 0.0f : __expf(p[tid] - new_m);
    const float tile_sum = detail::block_sum(pj, scratch);  // syncs: every p[] read is done
    p[tid] = pj;
    __syncthreads();
    l_run = l_run * corr + tile_sum;
    m_run = new_m;
    const std::int64_t tile_n = min(std::int64_t{kTile}, limit - t0);
#pragma unroll
    for (int u = 0; u < kDimsPerThread; ++u) {
      const std::int64_t d = tid + std::int64_t{u} * kTile;
      if (d >= d_count) break;
      float a = acc[u] * corr;
      const KV* vcol = v + t0 * kv_stride + kvh * d_count + d;
      for (std::int64_t jj = 0; jj < tile_n; ++jj) {
        // Masked keys are skipped, not multiplied by 0: their values may be NaN (recycled memory).
        if (p[jj] != 0.0f) a += p[jj] * detail::to_float(vcol[jj * kv_stride]);
      }
      acc[u] = a;
    }
    __syncthreads();  // p[] is rewritten by the next tile
  }
  float* orow = out + (i * s.hq + h) * d_count;
  const float inv = l_run > 0.0f ? 1.0f / l_run : 0.0f;
#pragma unroll
  for (int u = 0; u < kDimsPerThread; ++u) {
    const std::int64_t d = tid + std::int64_t{u} * kTile;
    if (d < d_count) orow[d] = acc[u] * inv;
  }
}

}  // namespace

void attention_f32(StreamHandle stream, const AttentionShape& shape, const float* q, const void* k,
                   const void* v, DType kv_dtype, const std::uint8_t* key_mask, float* out) {
  if (shape.tq == 0 || shape.hq == 0 || shape.d == 0) return;
  if (shape.d > kAttentionMaxHeadDim) {
    detail::throw_unsupported("cuda attention: head dim " + std::to_string(shape.d) + " (at most " +
                              std::to_string(kAttentionMaxHeadDim) + ")");
  }
  if (shape.hkv <= 0 || shape.hq % shape.hkv != 0) {
    detail::throw_internal("cuda attention: " + std::to_string(shape.hq) + " query heads over " +
                           std::to_string(shape.hkv) + " kv heads");
  }
  if (shape.hq >= 2147483647 || shape.tq > 65535) {
    detail::throw_unsupported("cuda attention: " + std::to_string(shape.tq) + " queries x " +
                              std::to_string(shape.hq) + " heads exceed one grid");
  }
  const dim3 grid(static_cast<unsigned>(shape.hq), static_cast<unsigned>(shape.tq));
  switch (kv_dtype) {
    case DType::F32:
      attention_kernel<<<grid, kTile, 0, stream>>>(shape, q, static_cast<const float*>(k),
                                                   static_cast<const float*>(v), key_mask, out);
      break;
    case DType::F16:
      attention_kernel<<<grid, kTile, 0, stream>>>(shape, q, static_cast<const __half*>(k),
                                                   static_cast<const __half*>(v), key_mask, out);
      break;
    default:
      detail::throw_unsupported("cuda attention: " + std::string(dtype_name(kv_dtype)) +
                                " keys/values");
  }
  detail::check_launch("attention_f32");
}

}  // namespace chatterd::cuda
