#include "models/t3/t3_cuda_decoder.h"

#include "core/check.h"
#include "ops/convert.h"
#include "ops/device.h"
#include "ops/elementwise.h"

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

}  // namespace chatterd
