#include "models/t3/t3_cuda_llama_decoder.h"

#include <algorithm>

#include "core/check.h"
#include "ops/device.h"
#include "ops/norm.h"

#ifdef CHATTERD_HAVE_CUDA
#include "backends/cuda/context.h"
#include "backends/cuda/kv_slots.h"
#endif

namespace chatterd {

T3CudaLlamaDecoder::T3CudaLlamaDecoder(const ExecContext& ctx, const T3Model& model,
                                       std::int64_t positions)
    : config_(model.config()), blocks_(model.llama_blocks()), speech_head_(model.speech_head()) {
  CHATTERD_CHECK(model.is_llama(), InvalidArgument,
                 "T3CudaLlamaDecoder: the Llama backbone only (English, Multilingual)");
  CHATTERD_CHECK(ctx.cuda != nullptr, InvalidArgument, "T3CudaLlamaDecoder needs a CUDA context");
  for (auto& b : blocks_) b.to_device(ctx);
  speech_head_.to_device(ctx);
  norm_ = ops::to_device(ctx, model.llama_final_norm());  // f32 already (T3Model keeps it so)
  CHATTERD_CHECK(positions >= 0, InvalidArgument, "T3CudaLlamaDecoder: positions {} < 0",
                 positions);
  rope_positions_ =
      positions > 0 ? std::min(positions, model.max_positions()) : model.max_positions();
  rope_ =
      ops::rope_table_to_device(ctx, ops::build_rope_table(model.rope_config(), rope_positions_));
}

T3CudaLlamaDecoder::State T3CudaLlamaDecoder::new_state(const ExecContext& ctx, std::int64_t batch,
                                                        std::int64_t capacity, DType kv) const {
  CHATTERD_CHECK(batch == 1 || batch == 2, InvalidArgument,
                 "T3CudaLlamaDecoder: batch {} (1, or 2 for the CFG pair)", batch);
  CHATTERD_CHECK(capacity > 0 && capacity <= rope_positions_, InvalidArgument,
                 "T3CudaLlamaDecoder: capacity {} outside [1, {}]", capacity, rope_positions_);
  State s;
  s.batch = batch;
  s.caches.reserve(blocks_.size() * static_cast<std::size_t>(batch));
  for (std::size_t i = 0; i < blocks_.size() * static_cast<std::size_t>(batch); ++i) {
    s.caches.emplace_back(ctx, capacity, config_.num_kv_heads, config_.head_dim, kv);
  }
  return s;
}

#ifdef CHATTERD_HAVE_CUDA
void T3CudaLlamaDecoder::forward(const ExecContext& ctx, const Tensor& embeds, State& state) const {
  const std::int64_t d = config_.hidden_size;
  const std::int64_t batch = state.batch;
  const bool rank2 = embeds.rank() == 2 && batch == 1;
  CHATTERD_CHECK(embeds.device() == Device::CUDA && embeds.dtype() == DType::F32 &&
                     (rank2 || (embeds.rank() == 3 && embeds.dim(0) == batch)) &&
                     embeds.dim(embeds.rank() - 1) == d && embeds.dim(embeds.rank() - 2) > 0,
                 ShapeError,
                 "T3CudaLlamaDecoder: embeds must be f32 [{}, T > 0, {}] on the device, got {}",
                 batch, d, embeds.to_string());
  CHATTERD_CHECK(state.caches.size() == blocks_.size() * static_cast<std::size_t>(batch),
                 InvalidArgument, "T3CudaLlamaDecoder: state has {} caches for {} layers x {}",
                 state.caches.size(), blocks_.size(), batch);
  const std::int64_t t = embeds.dim(embeds.rank() - 2);
  const std::int64_t start = state.length();
  CHATTERD_CHECK(start + t <= state.capacity(), InvalidArgument,
                 "T3CudaLlamaDecoder: {} positions exceed the state's {}", start + t,
                 state.capacity());
  cuda::DeviceContext& dc = *ctx.cuda;
  dc.ensure(state.x, Shape{batch * t, d}, DType::F32);
  dc.copy(embeds, state.x);
  const auto b = static_cast<std::size_t>(batch);
  for (std::size_t l = 0; l < blocks_.size(); ++l) {
    blocks_[l].forward(ctx, state.x, std::span<ops::DeviceKvCache>(state.caches.data() + l * b, b),
                       start, rope_, state.scratch);
  }
  // Row r's last position is x row r * t + t - 1.
  dc.ensure(state.last, Shape{batch, d}, DType::F32);
  const std::size_t row_bytes = static_cast<std::size_t>(d) * sizeof(float);
  dc.copy_rows(state.last.raw_data(), row_bytes, state.x.device_data<float>() + (t - 1) * d,
               static_cast<std::size_t>(t) * row_bytes, row_bytes, static_cast<std::size_t>(batch));
  ops::rms_norm(ctx, state.last, &norm_, state.hidden, static_cast<float>(config_.norm_eps));
  speech_head_.forward(ctx, state.hidden, state.logits);
}

Tensor T3CudaLlamaDecoder::prefill_slots(const ExecContext& ctx, cuda::KvSlots& slots,
                                         std::int64_t first, const Tensor& embeds) const {
  const std::int64_t batch = embeds.rank() == 3 ? embeds.dim(0) : 1;
  CHATTERD_CHECK(slots.layers() == static_cast<std::int64_t>(blocks_.size()) && first >= 0 &&
                     first + batch <= slots.max_batch() && (batch == 1 || batch == 2),
                 InvalidArgument,
                 "T3CudaLlamaDecoder::prefill_slots: slots [{}, {}) of {} in {} layers (model: {})",
                 first, first + batch, slots.max_batch(), slots.layers(), blocks_.size());
  CHATTERD_CHECK(ctx.cuda == &slots.context(), InvalidArgument,
                 "T3CudaLlamaDecoder::prefill_slots: the slots belong to another CUDA context");
  State state;
  state.batch = batch;
  for (std::int64_t l = 0; l < slots.layers(); ++l) {
    for (std::int64_t r = 0; r < batch; ++r) {
      state.caches.emplace_back(slots.keys(l, first + r), slots.values(l, first + r));
    }
  }
  forward(ctx, embeds, state);
  for (std::int64_t r = 0; r < batch; ++r) slots.set_length(first + r, state.length());
  return state.logits;
}

void T3CudaLlamaDecoder::step(const ExecContext& ctx, cuda::KvSlots& slots, std::int64_t batch,
                              const Tensor& embeds, StepScratch& s) const {
  const std::int64_t d = config_.hidden_size;
  CHATTERD_CHECK(batch > 0 && batch <= slots.max_batch() &&
                     slots.layers() == static_cast<std::int64_t>(blocks_.size()) &&
                     slots.capacity() <= rope_positions_,
                 InvalidArgument,
                 "T3CudaLlamaDecoder::step: batch {} over {} slots of {} layers, capacity {} "
                 "(RoPE table {})",
                 batch, slots.max_batch(), slots.layers(), slots.capacity(), rope_positions_);
  CHATTERD_CHECK(embeds.device() == Device::CUDA && embeds.dtype() == DType::F32 &&
                     embeds.rank() == 2 && embeds.dim(0) >= batch && embeds.dim(1) == d,
                 ShapeError,
                 "T3CudaLlamaDecoder::step: embeds must be f32 [>= {}, {}] on the device, got {}",
                 batch, d, embeds.to_string());
  CHATTERD_CHECK(ctx.cuda == &slots.context(), InvalidArgument,
                 "T3CudaLlamaDecoder::step: the slots belong to another CUDA context (stream)");
  slots.check_room(batch);
  cuda::DeviceContext& dc = *ctx.cuda;
  dc.ensure(s.x, Shape{batch, d}, DType::F32);
  dc.copy(embeds.narrow0(0, batch), s.x);
  for (std::size_t l = 0; l < blocks_.size(); ++l) {
    blocks_[l].forward_slots(ctx, s.x, slots, static_cast<std::int64_t>(l), rope_, s.block);
  }
  ops::rms_norm(ctx, s.x, &norm_, s.hidden, static_cast<float>(config_.norm_eps));
  speech_head_.forward(ctx, s.hidden, s.logits);
  slots.advance(batch);
}
#else
void T3CudaLlamaDecoder::forward(const ExecContext&, const Tensor&, State&) const {
  CHATTERD_THROW(Unsupported, "T3CudaLlamaDecoder: this build has no CUDA backend");
}

Tensor T3CudaLlamaDecoder::prefill_slots(const ExecContext&, cuda::KvSlots&, std::int64_t,
                                         const Tensor&) const {
  CHATTERD_THROW(Unsupported, "T3CudaLlamaDecoder: this build has no CUDA backend");
}

void T3CudaLlamaDecoder::step(const ExecContext&, cuda::KvSlots&, std::int64_t, const Tensor&,
                              StepScratch&) const {
  CHATTERD_THROW(Unsupported, "T3CudaLlamaDecoder: this build has no CUDA backend");
}
#endif

}  // namespace chatterd
