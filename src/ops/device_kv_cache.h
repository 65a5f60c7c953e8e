#pragma once
// A key/value cache on the CUDA device for one layer of one stream: a fixed slot of `capacity`
// tokens, keys and values [capacity, n_kv_heads, head_dim] each, f16 (or f32 for checks against
// the CPU goldens). Fixed slots keep every address stable, which CUDA graph replay needs; the
// host's block-pooled KvCache (ops/kv_cache.h) is the memory-frugal design, and a paged device
// cache may replace this one when hundreds of streams need it.

#include <cstdint>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

class DeviceKvCache {
 public:
  DeviceKvCache() = default;
  // Allocates the slot on ctx's device (uninitialised).
  DeviceKvCache(const ExecContext& ctx, std::int64_t capacity, std::int64_t n_kv_heads,
                std::int64_t head_dim, DType dtype = DType::F16);

  // A cache over existing device memory (a KvSlots slot): keys/values [capacity, Hkv, D] views,
  // length 0. The memory must outlive the cache.
  DeviceKvCache(Tensor keys, Tensor values);

  // k_new, v_new: f32 [T, n_kv_heads, head_dim] on the device; throws InvalidArgument when the
  // slot would overflow (the request asked for more tokens than it was given).
  void append(const ExecContext& ctx, const Tensor& k_new, const Tensor& v_new);
  void clear() { length_ = 0; }
  void truncate(std::int64_t n_tokens);

  std::int64_t length() const { return length_; }
  std::int64_t capacity() const { return capacity_; }
  DType dtype() const { return keys_.dtype(); }
  // The first length() tokens: [length, n_kv_heads, head_dim] views of the slot.
  Tensor keys() const { return keys_.narrow0(0, length_); }
  Tensor values() const { return values_.narrow0(0, length_); }

 private:
  Tensor keys_;
  Tensor values_;
  std::int64_t capacity_ = 0;
  std::int64_t length_ = 0;
};

}  // namespace chatterd::ops
