#include "ops/device_kv_cache.h"

#include "core/check.h"
#include "ops/convert.h"
#include "ops/device.h"

namespace chatterd::ops {

DeviceKvCache::DeviceKvCache(const ExecContext& ctx, std::int64_t capacity, std::int64_t n_kv_heads,
                             std::int64_t head_dim, DType dtype)
    : capacity_(capacity) {
  CHATTERD_CHECK(capacity > 0 && n_kv_heads > 0 && head_dim > 0, InvalidArgument,
                 "DeviceKvCache: capacity {}, {} kv heads, head dim {}", capacity, n_kv_heads,
                 head_dim);
  CHATTERD_CHECK(dtype == DType::F16 || dtype == DType::F32, DTypeError,
                 "DeviceKvCache: f16 or f32, not {}", dtype_name(dtype));
  keys_ = device_empty(ctx, Shape{capacity, n_kv_heads, head_dim}, dtype);
  values_ = device_empty(ctx, Shape{capacity, n_kv_heads, head_dim}, dtype);
}

DeviceKvCache::DeviceKvCache(Tensor keys, Tensor values)
    : keys_(std::move(keys)), values_(std::move(values)) {
  CHATTERD_CHECK(keys_.device() == Device::CUDA && keys_.rank() == 3 &&
                     values_.shape() == keys_.shape() && values_.dtype() == keys_.dtype() &&
                     (keys_.dtype() == DType::F16 || keys_.dtype() == DType::F32),
                 InvalidArgument,
                 "DeviceKvCache: keys {} / values {} must be matching f16/f32 [capacity, H, D] "
                 "device tensors",
                 keys_.to_string(), values_.to_string());
  capacity_ = keys_.dim(0);
}

void DeviceKvCache::append(const ExecContext& ctx, const Tensor& k_new, const Tensor& v_new) {
  CHATTERD_CHECK(capacity_ > 0, InvalidArgument, "DeviceKvCache: append to an unallocated cache");
  const Shape row{keys_.dim(1), keys_.dim(2)};
  CHATTERD_CHECK(k_new.rank() == 3 && k_new.dim(1) == row[0] && k_new.dim(2) == row[1] &&
                     v_new.shape() == k_new.shape(),
                 ShapeError, "DeviceKvCache: k {} / v {} must be [T, {}, {}]", k_new.to_string(),
                 v_new.to_string(), row[0], row[1]);
  const std::int64_t t = k_new.dim(0);
  CHATTERD_CHECK(length_ + t <= capacity_, InvalidArgument,
                 "DeviceKvCache: {} + {} tokens exceed the slot's {}", length_, t, capacity_);
  Tensor k_dst = keys_.narrow0(length_, t);
  Tensor v_dst = values_.narrow0(length_, t);
  convert(ctx, k_new, dtype(), k_dst);  // writes into the views (same shape and dtype)
  convert(ctx, v_new, dtype(), v_dst);
  length_ += t;
}

void DeviceKvCache::truncate(std::int64_t n_tokens) {
  CHATTERD_CHECK(n_tokens >= 0 && n_tokens <= length_, InvalidArgument,
                 "DeviceKvCache: truncate to {} of {} tokens", n_tokens, length_);
  length_ = n_tokens;
}

}  // namespace chatterd::ops
