#include "models/t3/t3_cuda_decoder.h"

#include "core/check.h"
#include "ops/convert.h"
#include "ops/device.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"

#ifdef CHATTERD_HAVE_CUDA
#include "backends/cuda/context.h"
#include "backends/cuda/kernels.h"
#include "backends/cuda/kv_slots.h"
#endif

namespace chatterd {

T3CudaDecoder::T3CudaDecoder(const ExecContext& ctx, const T3Model& model)
    : config_(model.config()),
      blocks_(model.gpt2_blocks()),
      ln_f_(model.gpt2_final_norm()),
      speech_head_(model.speech_head()) {
  CHATTERD_CHECK(!model.is_llama(), InvalidArgument,
                 "T3CudaDecoder: the GPT-2 backbone only (Turbo, Nano); this model is Llama");
  CHATTERD_CHECK(ctx.cuda != nullptr, InvalidArgument, "T3CudaDecoder needs a CUDA context");
  for (auto& b : blocks_) b.to_device(ctx);
  ln_f_.to_device(ctx);
  speech_head_.to_device(ctx);
  Tensor table = model.gpt2_position_table();
  if (table.dtype() != DType::F32) {
    Tensor f32;
    ops::convert(ExecContext{}, table, DType::F32, f32);
    table = f32;
  }
  wpe_ = ops::to_device(ctx, table);
  speech_emb_ = ops::to_device(ctx, model.speech_embedding_table());
}

T3CudaDecoder::State T3CudaDecoder::new_state(const ExecContext& ctx, std::int64_t capacity,
                                              DType kv) const {
  CHATTERD_CHECK(capacity > 0 && capacity <= wpe_.dim(0), InvalidArgument,
                 "T3CudaDecoder: capacity {} outside [1, {}] (wpe rows)", capacity, wpe_.dim(0));
  State s;
  s.caches.reserve(blocks_.size());
  for (std::size_t i = 0; i < blocks_.size(); ++i) {
    s.caches.emplace_back(ctx, capacity, config_.num_heads, config_.head_dim, kv);
  }
  return s;
}

void T3CudaDecoder::forward(const ExecContext& ctx, const Tensor& embeds, State& state) const {
  const std::int64_t d = config_.hidden_size;
  CHATTERD_CHECK(embeds.device() == Device::CUDA && embeds.dtype() == DType::F32 &&
                     embeds.rank() == 2 && embeds.dim(1) == d && embeds.dim(0) > 0,
                 ShapeError, "T3CudaDecoder: embeds must be f32 [T > 0, {}] on the device, got {}",
                 d, embeds.to_string());
  CHATTERD_CHECK(state.caches.size() == blocks_.size(), InvalidArgument,
                 "T3CudaDecoder: state has {} caches for {} layers (use new_state)",
                 state.caches.size(), blocks_.size());
  const std::int64_t t = embeds.dim(0);
  const std::int64_t start = state.length();
  CHATTERD_CHECK(start + t <= state.caches.front().capacity(), InvalidArgument,
                 "T3CudaDecoder: {} positions exceed the state's {}", start + t,
                 state.caches.front().capacity());
  // GPT-2 positions are consecutive: the table rows are a view, no gather.
  ops::add(ctx, embeds, wpe_.narrow0(start, t), state.x);
  for (std::size_t l = 0; l < blocks_.size(); ++l) {
    blocks_[l].forward(ctx, state.x, state.caches[l], state.scratch);
  }
  ln_f_.forward(ctx, state.x.narrow0(t - 1, 1), state.hidden);
  speech_head_.forward(ctx, state.hidden, state.logits);
}

#ifdef CHATTERD_HAVE_CUDA
Tensor T3CudaDecoder::prefill_slot(const ExecContext& ctx, cuda::KvSlots& slots, std::int64_t slot,
                                   const Tensor& embeds) const {
  State state;
  for (std::int64_t l = 0; l < slots.layers(); ++l) {
    state.caches.emplace_back(slots.keys(l, slot), slots.values(l, slot));
  }
  forward(ctx, embeds, state);
  slots.set_length(slot, state.length());
  return state.logits;
}

void T3CudaDecoder::step(const ExecContext& ctx, cuda::KvSlots& slots, std::int64_t batch,
                         const Tensor& ids, StepScratch& s) const {
  CHATTERD_CHECK(batch > 0 && batch <= slots.max_batch() &&
                     slots.layers() == static_cast<std::int64_t>(blocks_.size()) &&
                     slots.capacity() <= wpe_.dim(0),
                 InvalidArgument, "T3CudaDecoder::step: batch {} over {} slots of {} layers", batch,
                 slots.max_batch(), slots.layers());
  CHATTERD_CHECK(ids.device() == Device::CUDA && ids.dtype() == DType::I32 && ids.rank() == 1 &&
                     ids.dim(0) >= batch,
                 ShapeError, "T3CudaDecoder::step: ids must be i32 [>= {}] on the device, got {}",
                 batch, ids.to_string());
  CHATTERD_CHECK(ctx.cuda == &slots.context(), InvalidArgument,
                 "T3CudaDecoder::step: the slots belong to another CUDA context (stream)");
  slots.check_room(batch);
  ops::embedding(ctx, speech_emb_, ids.narrow0(0, batch), s.x);
  // Each stream's position is its slot length, read on the device.
  const Tensor positions = Tensor::borrow(const_cast<std::int32_t*>(slots.device_lengths()),
                                          Shape{batch}, DType::I32, {}, Device::CUDA);
  ops::embedding(ctx, wpe_, positions, s.pos);
  ops::add(ctx, s.x, s.pos, s.x);
  for (std::size_t l = 0; l < blocks_.size(); ++l) {
    blocks_[l].forward_slots(ctx, s.x, slots, static_cast<std::int64_t>(l), s.block);
  }
  ln_f_.forward(ctx, s.x, s.hidden);
  speech_head_.forward(ctx, s.hidden, s.logits);
  slots.advance(batch);
}

void T3CudaDecoder::greedy(const ExecContext& ctx, const Tensor& logits, Tensor& ids) const {
  CHATTERD_CHECK(ctx.cuda != nullptr && logits.device() == Device::CUDA && logits.rank() == 2 &&
                     logits.dtype() == DType::F32,
                 InvalidArgument, "T3CudaDecoder::greedy: f32 [B, V] device logits, got {}",
                 logits.to_string());
  const std::int64_t batch = logits.dim(0);
  // Writes into the caller's buffer (a captured step may read it): sized only when undefined.
  if (!ids.defined() || ids.numel() == 0) ctx.cuda->ensure(ids, Shape{batch}, DType::I32);
  CHATTERD_CHECK(ids.device() == Device::CUDA && ids.dtype() == DType::I32 && ids.rank() == 1 &&
                     ids.dim(0) >= batch,
                 ShapeError, "T3CudaDecoder::greedy: ids must be i32 [>= {}] on the device, got {}",
                 batch, ids.to_string());
  cuda::argmax_rows(ctx.cuda->stream().handle(), logits.device_data<float>(), batch, logits.dim(1),
                    ids.device_data<std::int32_t>());
}
#else
Tensor T3CudaDecoder::prefill_slot(const ExecContext&, cuda::KvSlots&, std::int64_t,
                                   const Tensor&) const {
  CHATTERD_THROW(Unsupported, "T3CudaDecoder: this build has no CUDA backend");
}

void T3CudaDecoder::step(const ExecContext&, cuda::KvSlots&, std::int64_t, const Tensor&,
                         StepScratch&) const {
  CHATTERD_THROW(Unsupported, "T3CudaDecoder: this build has no CUDA backend");
}

void T3CudaDecoder::greedy(const ExecContext&, const Tensor&, Tensor&) const {
  CHATTERD_THROW(Unsupported, "T3CudaDecoder: this build has no CUDA backend");
}
#endif

}  // namespace chatterd
