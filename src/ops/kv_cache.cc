#include "ops/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "core/check.h"

namespace chatterd::ops {

KvCache::KvCache(std::int64_t n_kv_heads, std::int64_t head_dim, std::int64_t capacity)
    : n_kv_heads_(n_kv_heads), head_dim_(head_dim) {
  CHATTERD_CHECK(n_kv_heads > 0 && head_dim > 0, InvalidArgument,
                 "kv_cache: n_kv_heads ({}) and head_dim ({}) must be positive", n_kv_heads,
                 head_dim);
  reserve(capacity);
}

void KvCache::reserve(std::int64_t n_tokens) {
  CHATTERD_CHECK(n_tokens >= 0, InvalidArgument, "kv_cache: reserve({}) is negative", n_tokens);
  if (n_tokens > capacity_) grow_to(n_tokens);
}

void KvCache::truncate(std::int64_t n_tokens) {
  CHATTERD_CHECK(n_tokens >= 0 && n_tokens <= length_, InvalidArgument,
                 "kv_cache: truncate({}) outside [0, {}]", n_tokens, length_);
  length_ = n_tokens;
}

void KvCache::assign(const KvCache& src) {
  CHATTERD_CHECK(src.n_kv_heads_ == n_kv_heads_ && src.head_dim_ == head_dim_, ShapeError,
                 "kv_cache: assign from {} heads x {} into {} x {}", src.n_kv_heads_, src.head_dim_,
                 n_kv_heads_, head_dim_);
  length_ = 0;
  if (src.length_ > capacity_) grow_to(src.length_);
  const std::int64_t n = src.length_ * head_dim_;
  for (std::int64_t h = 0; h < n_kv_heads_ && n > 0; ++h) {
    std::copy(src.k_data() + h * src.head_stride(), src.k_data() + h * src.head_stride() + n,
              k_.data<float>() + h * head_stride());
    std::copy(src.v_data() + h * src.head_stride(), src.v_data() + h * src.head_stride() + n,
              v_.data<float>() + h * head_stride());
  }
  length_ = src.length_;
}

void KvCache::grow_to(std::int64_t new_capacity) {
  CHATTERD_CHECK(n_kv_heads_ > 0, InvalidArgument, "kv_cache: used before construction");
  Tensor k = Tensor::empty({n_kv_heads_, new_capacity, head_dim_}, DType::F32);
  Tensor v = Tensor::empty({n_kv_heads_, new_capacity, head_dim_}, DType::F32);
  if (length_ > 0) {
    const auto bytes = static_cast<std::size_t>(length_ * head_dim_) * sizeof(float);
    for (std::int64_t h = 0; h < n_kv_heads_; ++h) {
      std::memcpy(k.data<float>() + h * new_capacity * head_dim_,
                  k_.data<float>() + h * capacity_ * head_dim_, bytes);
      std::memcpy(v.data<float>() + h * new_capacity * head_dim_,
                  v_.data<float>() + h * capacity_ * head_dim_, bytes);
    }
  }
  k_ = std::move(k);
  v_ = std::move(v);
  capacity_ = new_capacity;
}

void KvCache::append(const ExecContext& ctx, const Tensor& k_new, const Tensor& v_new) {
  CHATTERD_CHECK(n_kv_heads_ > 0, InvalidArgument, "kv_cache: append before construction");
  check_dtype(k_new, DType::F32, "kv_cache: k_new");
  check_dtype(v_new, DType::F32, "kv_cache: v_new");
  check_rank(k_new, 3, "kv_cache: k_new");
  const std::int64_t T = k_new.dim(0);
  check_shape(k_new, Shape{T, n_kv_heads_, head_dim_}, "kv_cache: k_new");
  check_shape(v_new, Shape{T, n_kv_heads_, head_dim_}, "kv_cache: v_new");
  if (length_ + T > capacity_) grow_to(std::max(length_ + T, 2 * capacity_));
  const std::int64_t D = head_dim_;
  const std::int64_t H = n_kv_heads_;
  const float* ks = k_new.data<float>();
  const float* vs = v_new.data<float>();
  float* kd = k_.data<float>();
  float* vd = v_.data<float>();
  const std::int64_t base = length_;
  const std::int64_t cap = capacity_;
  ctx.parallel_for(H, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(T * D, 1)),
                   [&](std::int64_t h0, std::int64_t h1) {
                     const auto bytes = static_cast<std::size_t>(D) * sizeof(float);
                     for (std::int64_t h = h0; h < h1; ++h) {
                       for (std::int64_t t = 0; t < T; ++t) {
                         std::memcpy(kd + (h * cap + base + t) * D, ks + (t * H + h) * D, bytes);
                         std::memcpy(vd + (h * cap + base + t) * D, vs + (t * H + h) * D, bytes);
                       }
                     }
                   });
  length_ += T;
}

}  // namespace chatterd::ops
