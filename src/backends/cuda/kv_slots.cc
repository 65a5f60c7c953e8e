#include "backends/cuda/kv_slots.h"

#include <cstring>

#include "backends/cuda/context.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels.h"
#include "core/check.h"

namespace chatterd::cuda {

KvSlots::KvSlots(DeviceContext& dc, std::int64_t layers, std::int64_t max_batch,
                 std::int64_t capacity, std::int64_t n_kv_heads, std::int64_t head_dim, DType dtype)
    : dc_(dc),
      layers_(layers),
      max_batch_(max_batch),
      capacity_(capacity),
      n_kv_heads_(n_kv_heads),
      head_dim_(head_dim),
      host_lengths_(static_cast<std::size_t>(std::max<std::int64_t>(max_batch, 0)), 0) {
  CHATTERD_CHECK(layers > 0 && max_batch > 0 && capacity > 0 && n_kv_heads > 0 && head_dim > 0,
                 InvalidArgument, "KvSlots: {} layers x {} slots x {} positions x {} x {}", layers,
                 max_batch, capacity, n_kv_heads, head_dim);
  CHATTERD_CHECK(dtype == DType::F16 || dtype == DType::F32, DTypeError,
                 "KvSlots: f16 or f32, not {}", dtype_name(dtype));
  CHATTERD_CHECK(capacity < 2147483647, InvalidArgument, "KvSlots: capacity {}", capacity);
  const Shape shape{layers, max_batch, capacity, n_kv_heads, head_dim};
  keys_ = dc.empty(shape, dtype);
  values_ = dc.empty(shape, dtype);
  Tensor pointers = Tensor::empty(Shape{2, layers, max_batch}, DType::I64);
  auto* p = pointers.data<std::int64_t>();
  for (std::int64_t l = 0; l < layers; ++l) {
    for (std::int64_t s = 0; s < max_batch; ++s) {
      p[l * max_batch + s] = reinterpret_cast<std::int64_t>(keys(l, s).raw_data());
      p[(layers + l) * max_batch + s] = reinterpret_cast<std::int64_t>(values(l, s).raw_data());
    }
  }
  pointers_ = dc.to_device(pointers);
  lengths_ = dc.to_device(Tensor::zeros(Shape{max_batch}, DType::I32));
}

Tensor KvSlots::keys(std::int64_t layer, std::int64_t slot) const {
  CHATTERD_CHECK(layer >= 0 && layer < layers_ && slot >= 0 && slot < max_batch_, InvalidArgument,
                 "KvSlots: layer {} slot {} out of range ({} x {})", layer, slot, layers_,
                 max_batch_);
  return keys_.select0(layer).select0(slot);
}

Tensor KvSlots::values(std::int64_t layer, std::int64_t slot) const {
  CHATTERD_CHECK(layer >= 0 && layer < layers_ && slot >= 0 && slot < max_batch_, InvalidArgument,
                 "KvSlots: layer {} slot {} out of range ({} x {})", layer, slot, layers_,
                 max_batch_);
  return values_.select0(layer).select0(slot);
}

void KvSlots::move_slot(std::int64_t from, std::int64_t to) {
  CHATTERD_CHECK(from >= 0 && from < max_batch_, InvalidArgument, "KvSlots: slot {} of {}", from,
                 max_batch_);
  const std::int64_t length = host_lengths_[static_cast<std::size_t>(from)];
  for (std::int64_t l = 0; l < layers_; ++l) {
    Tensor k = keys(l, to).narrow0(0, length);
    Tensor v = values(l, to).narrow0(0, length);
    dc_.copy(keys(l, from).narrow0(0, length), k);
    dc_.copy(values(l, from).narrow0(0, length), v);
  }
  set_length(to, length);
}

void KvSlots::set_length(std::int64_t slot, std::int64_t length) {
  CHATTERD_CHECK(slot >= 0 && slot < max_batch_, InvalidArgument, "KvSlots: slot {} of {}", slot,
                 max_batch_);
  CHATTERD_CHECK(length >= 0 && length <= capacity_, InvalidArgument,
                 "KvSlots: length {} outside [0, {}]", length, capacity_);
  const auto value = static_cast<std::int32_t>(length);
  detail::check(cudaMemcpyAsync(lengths_.device_data<std::int32_t>() + slot, &value, sizeof(value),
                                cudaMemcpyHostToDevice, dc_.stream().handle()),
                "KvSlots::set_length");
  dc_.synchronize();  // `value` lives on this stack frame
  host_lengths_[static_cast<std::size_t>(slot)] = length;
}

std::int64_t KvSlots::length(std::int64_t slot) const {
  CHATTERD_CHECK(slot >= 0 && slot < max_batch_, InvalidArgument, "KvSlots: slot {} of {}", slot,
                 max_batch_);
  return host_lengths_[static_cast<std::size_t>(slot)];
}

void KvSlots::check_room(std::int64_t batch) const {
  CHATTERD_CHECK(batch >= 0 && batch <= max_batch_, InvalidArgument, "KvSlots: batch {} of {}",
                 batch, max_batch_);
  for (std::int64_t b = 0; b < batch; ++b) {
    CHATTERD_CHECK(host_lengths_[static_cast<std::size_t>(b)] < capacity_, InvalidArgument,
                   "KvSlots: slot {} is full ({} positions)", b, capacity_);
  }
}

void KvSlots::append(std::int64_t layer, const float* k_new, const float* v_new,
                     std::int64_t stride, std::int64_t batch) {
  CHATTERD_CHECK(layer >= 0 && layer < layers_ && batch >= 0 && batch <= max_batch_,
                 InvalidArgument, "KvSlots::append: layer {}, batch {}", layer, batch);
  const auto* ptrs = static_cast<void* const*>(pointers_.raw_data());
  kv_append_batch(dc_.stream().handle(), k_new, v_new, stride, ptrs + layer * max_batch_,
                  ptrs + (layers_ + layer) * max_batch_, dtype(),
                  lengths_.device_data<std::int32_t>(), capacity_, batch, n_kv_heads_ * head_dim_);
}

void KvSlots::attend(std::int64_t layer, const float* q, std::int64_t q_stride, std::int64_t batch,
                     std::int64_t n_heads, float scale, float* out) {
  CHATTERD_CHECK(layer >= 0 && layer < layers_ && batch >= 0 && batch <= max_batch_,
                 InvalidArgument, "KvSlots::attend: layer {}, batch {}", layer, batch);
  const auto* ptrs = static_cast<void* const*>(pointers_.raw_data());
  attention_decode_batch(dc_.stream().handle(), q, q_stride, ptrs + layer * max_batch_,
                         ptrs + (layers_ + layer) * max_batch_, dtype(),
                         lengths_.device_data<std::int32_t>(), capacity_, batch, n_heads,
                         n_kv_heads_, head_dim_, scale, out);
}

void KvSlots::advance(std::int64_t batch) {
  CHATTERD_CHECK(batch >= 0 && batch <= max_batch_, InvalidArgument, "KvSlots::advance: batch {}",
                 batch);
  advance_lengths(dc_.stream().handle(), lengths_.device_data<std::int32_t>(), batch);
}

void KvSlots::note_advanced(std::int64_t batch) {
  for (std::int64_t b = 0; b < batch; ++b) ++host_lengths_[static_cast<std::size_t>(b)];
}

const std::int32_t* KvSlots::device_lengths() const {
  return lengths_.device_data<std::int32_t>();
}

}  // namespace chatterd::cuda
