#pragma once
// Per-layer key/value cache for incremental decoding.
//
// Layout: k and v are each f32 [n_kv_heads, capacity, head_dim]: one head's keys are contiguous,
// so a decode step streams each head's history linearly (and attention can hand a head's keys to
// sgemm with a plain leading dimension). Appending scatters the new [T, H_kv, D] rows into place.
// Capacity comes from reserve() (size it from the request: prompt + max new tokens), never from
// the model's maximum context; an append that does not fit grows it geometrically (x2) by
// copying, so occasional overruns stay amortised O(1) per token.

#include <cstdint>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

class KvCache {
 public:
  KvCache() = default;
  KvCache(std::int64_t n_kv_heads, std::int64_t head_dim, std::int64_t capacity = 0);

  // Ensure room for `n_tokens` in total (keeps the contents).
  void reserve(std::int64_t n_tokens);
  // Append k_new, v_new: f32 [T, n_kv_heads, head_dim]. Grows when needed.
  void append(const ExecContext& ctx, const Tensor& k_new, const Tensor& v_new);
  // Forget the contents (keeps the storage), e.g. for a new request.
  void clear() { length_ = 0; }
  // Drop tokens from the end: keep the first `n_tokens`.
  void truncate(std::int64_t n_tokens);
  // Replaces the contents by a deep copy of `src`'s tokens (same heads and head dim; grows when
  // needed, keeps a larger capacity): restores a cached prefix into a request's own cache.
  void assign(const KvCache& src);

  std::int64_t length() const { return length_; }
  std::int64_t capacity() const { return capacity_; }
  std::int64_t n_kv_heads() const { return n_kv_heads_; }
  std::int64_t head_dim() const { return head_dim_; }

  // Raw storage, [n_kv_heads, capacity, head_dim]; rows >= length() are garbage.
  const float* k_data() const { return capacity_ == 0 ? nullptr : k_.data<float>(); }
  const float* v_data() const { return capacity_ == 0 ? nullptr : v_.data<float>(); }
  std::int64_t head_stride() const { return capacity_ * head_dim_; }

 private:
  void grow_to(std::int64_t new_capacity);

  std::int64_t n_kv_heads_ = 0;
  std::int64_t head_dim_ = 0;
  std::int64_t capacity_ = 0;
  std::int64_t length_ = 0;
  Tensor k_;
  Tensor v_;
};

}  // namespace chatterd::ops
