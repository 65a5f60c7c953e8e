#pragma once
// The T3 Llama backbone (English, Multilingual) on a CUDA device: the blocks, the final RMSNorm,
// the speech head and the RoPE table, copied from a loaded T3Model and moved to the device once
// (matrices bf16, the rest f32). The host model still makes the input embeddings (conditioning
// with the perceiver, text and speech tokens with their learned positions); callers upload them.
// A state holds one sequence, or the CFG pair (row 0 conditional, row 1 unconditional), each
// with its own fixed-capacity cache per layer.

#include <cstdint>
#include <vector>

#include "chatterd/core/tensor.h"
#include "layers/linear.h"
#include "layers/llama_block.h"
#include "models/t3/t3_model.h"
#include "ops/device_kv_cache.h"
#include "ops/exec_context.h"
#include "ops/rope.h"

namespace chatterd {

namespace cuda {
class KvSlots;
}

class T3CudaLlamaDecoder {
 public:
  // ctx.cuda must be set; throws InvalidArgument for a GPT-2 model. The RoPE table covers
  // `positions` (at most the model's; 0: the model's): states never hold more.
  T3CudaLlamaDecoder(const ExecContext& ctx, const T3Model& model, std::int64_t positions = 0);

  struct State {
    std::int64_t batch = 1;
    std::vector<ops::DeviceKvCache> caches;  // caches[layer * batch + row]
    layers::LlamaBlockScratch scratch;
    Tensor x;       // [batch * T, d] residual stream
    Tensor last;    // [batch, d] each row's last position
    Tensor hidden;  // [batch, d] normed
    Tensor logits;  // [batch, speech_vocab]
    std::int64_t length() const { return caches.empty() ? 0 : caches.front().length(); }
    std::int64_t capacity() const { return caches.empty() ? 0 : caches.front().capacity(); }
  };
  // batch 1 or 2 (the CFG pair); `capacity` positions per row, at most max_positions().
  State new_state(const ExecContext& ctx, std::int64_t batch, std::int64_t capacity,
                  DType kv = DType::F16) const;

  // embeds: f32 [batch, T, d] (or [T, d] when batch is 1) on the device, RoPE positions
  // state.length() .. + T - 1. Leaves each row's last hidden state and speech logits in `state`.
  void forward(const ExecContext& ctx, const Tensor& embeds, State& state) const;

  // ---- Batched decode over fixed slots (CUDA builds; Unsupported otherwise): every stream's CFG
  // pair holds two adjacent slots of `slots` (config().num_layers layers of num_kv_heads x
  // head_dim, capacity at most max_positions()).
  // Prefills slots [first, first + batch) with embeds f32 [batch, T, d] (device; batch 1 or 2,
  // row 1 the unconditional one); their lengths become T. Returns the last rows' logits
  // [batch, speech_vocab] (device).
  Tensor prefill_slots(const ExecContext& ctx, cuda::KvSlots& slots, std::int64_t first,
                       const Tensor& embeds) const;
  struct StepScratch {
    layers::LlamaBlockScratch block;
    Tensor x;       // [B, d]
    Tensor hidden;  // [B, d]
    Tensor logits;  // [B, speech_vocab]
  };
  // One decode step for slots [0, batch): embeds f32 [batch, d] on the device (row b: the input
  // of slot b, at the slot's length); leaves logits [batch, speech_vocab] in `s` and advances the
  // device lengths (the caller notes it: slots.note_advanced). slots.check_room(batch) runs
  // here. Reads nothing else from the host: capturable as a CUDA graph once `s` is sized.
  void step(const ExecContext& ctx, cuda::KvSlots& slots, std::int64_t batch, const Tensor& embeds,
            StepScratch& s) const;

  std::int64_t max_positions() const { return rope_positions_; }
  const T3Config& config() const { return config_; }

 private:
  T3Config config_;
  std::vector<layers::LlamaBlock> blocks_;
  Tensor norm_;  // [d] f32 on the device
  layers::Linear speech_head_;
  ops::RopeTable rope_;  // cos/sin on the device for every position
  std::int64_t rope_positions_ = 0;
};

}  // namespace chatterd
