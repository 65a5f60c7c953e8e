// Attention for one sequence: a block per (query row, head), the row computed by
// detail::attend_row (attention_row.cuh).

#include "backends/cuda/attention_row.cuh"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels.h"

namespace chatterd::cuda {
namespace {

template <class KV>
__global__ void __launch_bounds__(detail::kAttentionTile)
    attention_kernel(AttentionShape s, const float* __restrict__ q, const KV* __restrict__ k,
                     const KV* __restrict__ v, const std::uint8_t* __restrict__ mask,
                     float* __restrict__ out) {
  const std::int64_t h = blockIdx.x;
  const std::int64_t i = blockIdx.y;
  const std::int64_t kvh = h / (s.hq / s.hkv);
  std::int64_t limit = s.tk;
  if (s.causal) limit = min(limit, max(std::int64_t{0}, s.q_offset + i + 1));
  detail::attend_row(q + (i * s.hq + h) * s.d, k + kvh * s.d, v + kvh * s.d, s.hkv * s.d, limit,
                     mask, s.d, s.scale, out + (i * s.hq + h) * s.d);
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
      attention_kernel<<<grid, detail::kAttentionTile, 0, stream>>>(
          shape, q, static_cast<const float*>(k), static_cast<const float*>(v), key_mask, out);
      break;
    case DType::F16:
      attention_kernel<<<grid, detail::kAttentionTile, 0, stream>>>(
          shape, q, static_cast<const __half*>(k), static_cast<const __half*>(v), key_mask, out);
      break;
    default:
      detail::throw_unsupported("cuda attention: " + std::string(dtype_name(kv_dtype)) +
                                " keys/values");
  }
  detail::check_launch("attention_f32");
}

}  // namespace chatterd::cuda
