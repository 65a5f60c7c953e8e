#pragma once
// Scaled dot-product attention over one sequence, f32:
//   out[i, h] = softmax_j(scale * q[i, h] . k[j, kv(h)] + mask) v[j, kv(h)]
// with grouped-query attention (kv(h) = h / (Hq / Hkv), HF repeat_kv order), optional causal
// masking relative to q_offset, and an optional key padding mask. Masked scores are -inf; a query
// row with no visible key at all gets an all-zero output (instead of NaN).
//
// Paths: rows are processed in blocks of up to 64 queries per head, in parallel over
// (head, block). Blocks of fewer than 4 queries (decode) use SIMD dot products + softmax + axpy;
// larger blocks use sgemm for Q.K^T and P.V with a masked softmax in between. Scores stay in f32.

#include <cstdint>
#include <optional>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"
#include "ops/kv_cache.h"

namespace chatterd::ops {

struct AttentionOptions {
  std::optional<float> scale;  // default 1/sqrt(head_dim)
  bool causal = false;
  // Position (key index) of the first query: query i may see keys j <= q_offset + i when causal.
  // Default Tk - Tq: the queries are the last Tq keys (full self-attention, cache decode/prefill).
  std::optional<std::int64_t> q_offset;
  // Bool [Tk]; false = key masked out. Null: every key is visible.
  const Tensor* key_padding_mask = nullptr;
};

// q: f32 [Tq, Hq, D]; k, v: f32 [Tk, Hkv, D]; out: f32 [Tq, Hq, D] (resized).
void attention(const ExecContext& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
               const AttentionOptions& options, Tensor& out);

// Same with keys/values from a cache (Tk = cache.length(), Hkv = cache.n_kv_heads()).
void attention(const ExecContext& ctx, const Tensor& q, const KvCache& cache,
               const AttentionOptions& options, Tensor& out);

}  // namespace chatterd::ops
