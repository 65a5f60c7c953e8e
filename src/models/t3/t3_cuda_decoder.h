#pragma once
// The T3 GPT-2 backbone (Turbo, Nano) on a CUDA device: the blocks, the final norm, the speech
// head and the position table, copied from a loaded T3Model and moved to the device once
// (matrices bf16, the rest f32). The host model still makes the input embeddings (conditioning,
// text, speech tokens); callers upload them. One decoder serves any number of states.

#include <cstdint>
#include <vector>

#include "chatterd/core/tensor.h"
#include "layers/gpt2_block.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "models/t3/t3_model.h"
#include "ops/device_kv_cache.h"
#include "ops/exec_context.h"

namespace chatterd::cuda {
class KvSlots;
}

namespace chatterd {

class T3CudaDecoder {
 public:
  // ctx.cuda must be set; throws InvalidArgument for a Llama model.
  T3CudaDecoder(const ExecContext& ctx, const T3Model& model);

  struct State {
    std::vector<ops::DeviceKvCache> caches;  // one fixed slot per layer
    layers::Gpt2BlockScratch scratch;
    Tensor x;       // [T, d] residual stream
    Tensor hidden;  // [1, d] final-normed last row
    Tensor logits;  // [1, speech_vocab] of the last row
    std::int64_t length() const { return caches.empty() ? 0 : caches.front().length(); }
  };
  // A state whose caches hold `capacity` positions (f16 keys/values, or f32 for checks).
  State new_state(const ExecContext& ctx, std::int64_t capacity, DType kv = DType::F16) const;

  // embeds: f32 [T, d] on the device, the positions state.length() .. + T - 1. Leaves the last
  // row's hidden state and speech logits in `state` (on the device).
  void forward(const ExecContext& ctx, const Tensor& embeds, State& state) const;

  // ---- Batched decode over fixed slots (CUDA builds; Unsupported otherwise). The slots
  // (backends/cuda/kv_slots.h) hold config().num_layers layers of num_heads x head_dim, at most
  // max_positions() positions.
  std::int64_t max_positions() const { return wpe_.dim(0); }
  // Prefills slot `slot` with embeds f32 [T, d] (device); the slot's length becomes T. Returns
  // the last row's logits [1, speech_vocab] (device).
  Tensor prefill_slot(const ExecContext& ctx, cuda::KvSlots& slots, std::int64_t slot,
                      const Tensor& embeds) const;

  struct StepScratch {
    layers::Gpt2BlockScratch block;
    Tensor x;       // [B, d]
    Tensor pos;     // [B, d]
    Tensor hidden;  // [B, d]
    Tensor logits;  // [B, speech_vocab]
  };
  // One decode step for slots [0, batch): `ids` i32 [batch] on the device holds each stream's
  // newest speech token; leaves logits [batch, speech_vocab] in `s` and advances the device
  // lengths (call slots.note_advanced(batch) once per executed step, graph replays included;
  // and slots.check_room(batch) before each replay: a full slot is refused here).
  // Reads nothing from the host: capturable as a CUDA graph once `s` is sized.
  void step(const ExecContext& ctx, cuda::KvSlots& slots, std::int64_t batch, const Tensor& ids,
            StepScratch& s) const;
  // ids[b] = argmax of logits row b (greedy decoding), on the device, into the first B entries
  // of `ids` (i32, at least B long; allocated when undefined), so the step's input buffer can be
  // filled in place.
  void greedy(const ExecContext& ctx, const Tensor& logits, Tensor& ids) const;

  const T3Config& config() const { return config_; }

 private:
  T3Config config_;
  std::vector<layers::Gpt2Block> blocks_;
  layers::LayerNorm ln_f_;
  layers::Linear speech_head_;
  Tensor wpe_;         // [max_positions, d] f32 on the device
  Tensor speech_emb_;  // [speech_vocab, d] on the device, as stored (f32/f16/bf16)
};

}  // namespace chatterd
