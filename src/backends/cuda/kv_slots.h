#pragma once
// Fixed KV slots for a batch of decoding streams on one device: for every layer, `max_batch`
// slots of `capacity` positions, keys and values [capacity, Hkv, D] each (f16, or f32 for
// checks). Slot lengths live in device memory, where the step's kernels read and advance them,
// so a decode step captured as a CUDA graph replays correctly while streams grow; the host keeps
// a mirror for bookkeeping (prefill, retiring streams before they outgrow their slot). A slot's
// memory can also be viewed as an ops::DeviceKvCache for the stream's prefill.

#include <cstdint>
#include <vector>

#include "chatterd/core/tensor.h"

namespace chatterd::cuda {

class DeviceContext;

class KvSlots {
 public:
  KvSlots(DeviceContext& dc, std::int64_t layers, std::int64_t max_batch, std::int64_t capacity,
          std::int64_t n_kv_heads, std::int64_t head_dim, DType dtype = DType::F16);

  // The context whose stream every slot kernel runs on: the step's other ops must use it too.
  DeviceContext& context() const { return dc_; }
  std::int64_t layers() const { return layers_; }
  std::int64_t max_batch() const { return max_batch_; }
  std::int64_t capacity() const { return capacity_; }
  std::int64_t n_kv_heads() const { return n_kv_heads_; }
  std::int64_t head_dim() const { return head_dim_; }
  DType dtype() const { return keys_.dtype(); }

  // Slot `slot` of `layer`: [capacity, Hkv, D] views.
  Tensor keys(std::int64_t layer, std::int64_t slot) const;
  Tensor values(std::int64_t layer, std::int64_t slot) const;

  // Sets a slot's length on both sides (after its prefill, or 0 to free it); synchronous, so not
  // inside a graph capture.
  void set_length(std::int64_t slot, std::int64_t length);
  // Copies slot `from`'s positions (its length) into slot `to` in every layer and gives `to` that
  // length; synchronous like set_length, so work queued before it is done too. Keeps running
  // streams in slots [0, n) when one leaves.
  void move_slot(std::int64_t from, std::int64_t to);
  // The host mirror (exact between steps).
  std::int64_t length(std::int64_t slot) const;
  // Throws InvalidArgument unless slots [0, batch) each have room for one more position (a full
  // slot would drop the step's keys silently). Call before every step, graph replays included.
  void check_room(std::int64_t batch) const;

  // Queued on the context's stream; they read lengths on the device (graph-safe).
  // k/v rows b of the step (f32, rows `stride` elements apart) go to position length(b).
  void append(std::int64_t layer, const float* k_new, const float* v_new, std::int64_t stride,
              std::int64_t batch);
  // out [batch, Hq, D] = attention over each slot's positions up to and including this step's.
  void attend(std::int64_t layer, const float* q, std::int64_t q_stride, std::int64_t batch,
              std::int64_t n_heads, float scale, float* out);
  // The device lengths of slots [0, batch) += 1 (queued); then note_advanced on the host, once
  // per executed step (a graph replay runs the kernel without this host code).
  void advance(std::int64_t batch);
  void note_advanced(std::int64_t batch);
  const std::int32_t* device_lengths() const;

 private:
  DeviceContext& dc_;
  std::int64_t layers_;
  std::int64_t max_batch_;
  std::int64_t capacity_;
  std::int64_t n_kv_heads_;
  std::int64_t head_dim_;
  Tensor keys_;      // [layers, max_batch, capacity, Hkv, D]
  Tensor values_;    // same
  Tensor pointers_;  // i64 [2, layers, max_batch]: device addresses of every slot (keys, values)
  Tensor lengths_;   // i32 [max_batch] on the device
  std::vector<std::int64_t> host_lengths_;
};

}  // namespace chatterd::cuda
