#pragma once
// T3: text tokens (+ speaker conditioning) -> speech-token logits. The model is const and shared;
// per-request caches and scratch live in T3State.
//
// Backbones: GPT-2 (Turbo/Nano) is implemented here; the Llama backbone (English/Multilingual,
// with the Perceiver conditioning and learned text/speech position embeddings) plugs in beside it
// through the same calls (issue 10) and is refused with Unsupported for now.
//
// Turbo sequence (T3.inference_turbo):
//   [spkr_enc(speaker_emb) (1) | speech_emb(prompt) (P) | text_emb(ids) (N) | speech_emb(BOS)]
// GPT-2 adds wpe[pos] to every row, pos = 0..L-1 at prefill and continuing with the cache
// length when decoding; generated tokens are fed as speech_emb(token) alone.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "chatterd/core/tensor.h"
#include "layers/gpt2_block.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "models/t3/t3_cond.h"
#include "models/t3/t3_config.h"
#include "models/t3/t3_state.h"
#include "models/variant.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd {

class T3Model {
 public:
  // Every tensor the config needs is read and checked (shape, name); big tables and matrices are
  // used as stored (f32/f16/bf16; q8_0 for matrices). Throws ModelFormatError for a bad store and
  // Unsupported for a Llama config.
  T3Model(std::shared_ptr<const WeightStore> store, const T3Config& config);

  // The T3 of a model directory: variant detected from the T3 file name, hyper-parameters from the
  // built-in defaults + hparams.json.
  static std::shared_ptr<const T3Model> load(const std::filesystem::path& model_dir);

  const T3Config& config() const { return config_; }
  const WeightStore& weights() const { return *store_; }

  // Rows the conditioning contributes to the sequence (Turbo: 1 + P).
  std::int64_t cond_length(const T3Cond& cond) const;
  // Prefill length for `n_text` text tokens (cond + text + BOS).
  std::int64_t prefill_length(const T3Cond& cond, std::int64_t n_text) const;
  // Positions the backbone can address (GPT-2: rows of wpe).
  std::int64_t max_positions() const { return config_.max_position_embeddings; }

  // out [C, d]: cat(spkr_enc(speaker_emb), speech_emb(prompt)) (reference cond_emb, batch dropped).
  void embed_cond(const ExecContext& ctx, const T3Cond& cond, T3State& state, Tensor& out) const;
  // out [n, d] = text_emb(ids) / speech_emb(ids); ids checked against the table size.
  void embed_text(const ExecContext& ctx, std::span<const std::int64_t> ids, T3State& state,
                  Tensor& out) const;
  void embed_speech(const ExecContext& ctx, std::span<const std::int64_t> ids, T3State& state,
                    Tensor& out) const;
  // out [L, d]: the prefill input embeddings (reference prepare_input_embeds, BOS included).
  void prefill_embeds(const ExecContext& ctx, const T3Cond& cond,
                      std::span<const std::int64_t> text_ids, T3State& state, Tensor& out) const;

  // A fresh state whose caches hold `capacity` tokens without growing.
  T3State new_state(std::int64_t capacity) const;
  // Clears `state` for a new request and makes sure it holds `capacity` tokens.
  void reset_state(T3State& state, std::int64_t capacity) const;

  // Runs the backbone on embeds [T, d] (positions state.length() ..), appending to the caches,
  // then the final norm of the last row into state.hidden [1, d] and speech_head into
  // state.logits [1, V]. Throws InvalidArgument when the positions run past max_positions().
  void forward(const ExecContext& ctx, const Tensor& embeds, T3State& state) const;

  // Bytes of weights one decode step reads (blocks, final norm, speech head, one embedding row).
  std::size_t decode_weight_bytes() const;

 private:
  void embed_ids(const ExecContext& ctx, const Tensor& table, std::span<const std::int64_t> ids,
                 const char* what, T3State& state, Tensor& out) const;

  std::shared_ptr<const WeightStore> store_;
  T3Config config_;
  Tensor text_emb_;    // [text_vocab, d] as stored
  Tensor speech_emb_;  // [speech_vocab, d] as stored
  layers::Linear spkr_enc_;
  layers::Linear speech_head_;
  // GPT-2 backbone.
  Tensor wpe_;  // [max_positions, d] as stored
  std::vector<layers::Gpt2Block> blocks_;
  layers::LayerNorm ln_f_;
};

}  // namespace chatterd
