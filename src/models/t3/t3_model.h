#pragma once
// T3: text tokens (+ speaker conditioning) -> speech-token logits. The model is const and shared;
// per-request caches and scratch live in T3State.
//
// Backbones: GPT-2 (Turbo/Nano) and Llama (English/Multilingual, with the Perceiver conditioning
// and learned text/speech position embeddings; Llama members in t3_model_llama.cc).
//
// Turbo sequence (T3.inference_turbo):
//   [spkr_enc(speaker_emb) (1) | speech_emb(prompt) (P) | text_emb(ids) (N) | speech_emb(BOS)]
// GPT-2 adds wpe[pos] to every row, pos = 0..L-1 at prefill and continuing with the cache
// length when decoding; generated tokens are fed as speech_emb(token) alone.
//
// English/Multilingual sequence (T3.prepare_input_embeds + T3.inference), per CFG row:
//   [spkr (1) | perceiver(speech_emb(prompt) + speech_pos_emb(0..P-1)) (32) | emotion (1) |
//    text_emb(SOT..EOT) + text_pos_emb(0..N-1) | speech_emb(BOS) + speech_pos_emb(0) |
//    speech_emb(BOS) + speech_pos_emb(0)]        (the second BOS row is appended by inference())
// Row 1 (unconditional) has text_emb zeroed, text_pos_emb kept. Generated token i is fed as
// speech_emb(token) + speech_pos_emb(i + 1) to every row. RoPE positions 0..L-1, then the cache
// length. With cfg_weight 0 a single row (batch 1) is run: logits = cond exactly.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "chatterd/core/tensor.h"
#include "layers/gpt2_block.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/llama_block.h"
#include "models/t3/perceiver.h"
#include "models/t3/t3_cond.h"
#include "models/t3/t3_config.h"
#include "models/t3/t3_state.h"
#include "models/variant.h"
#include "ops/exec_context.h"
#include "ops/kv_block_pool.h"
#include "weights/weight_store.h"

namespace chatterd {

class T3Model {
 public:
  // Every tensor the config needs is read and checked (shape, name); big tables and matrices are
  // used as stored (f32/f16/bf16; q8_0 for matrices). Throws ModelFormatError for a bad store and
  // InvalidArgument for an invalid config.
  // `matrix_dtype` (f32, f16, bf16 or q8_0; nullopt = as stored): the transformer's matrices
  // (attention, MLP) and speech_head are converted to it once here (layers::Linear::
  // convert_weight); embeddings, norms, biases and the conditioning stay as stored.
  T3Model(std::shared_ptr<const WeightStore> store, const T3Config& config,
          std::optional<DType> matrix_dtype = std::nullopt);

  // The T3 of a model directory: variant detected from the T3 file name, hyper-parameters from the
  // built-in defaults + hparams.json.
  static std::shared_ptr<const T3Model> load(const std::filesystem::path& model_dir,
                                             std::optional<DType> matrix_dtype = std::nullopt);

  const T3Config& config() const { return config_; }
  const WeightStore& weights() const { return *store_; }

  bool is_llama() const { return config_.backbone == T3Backbone::Llama; }

  // The GPT-2 backbone's parts (empty for Llama), for backends that run it elsewhere
  // (T3CudaDecoder copies them to the device).
  const std::vector<layers::Gpt2Block>& gpt2_blocks() const { return blocks_; }
  const layers::LayerNorm& gpt2_final_norm() const { return ln_f_; }
  const Tensor& gpt2_position_table() const { return wpe_; }
  const layers::Linear& speech_head() const { return speech_head_; }
  const Tensor& speech_embedding_table() const { return speech_emb_; }
  // The Llama backbone's parts (empty for GPT-2), for T3CudaLlamaDecoder.
  const std::vector<layers::LlamaBlock>& llama_blocks() const { return llama_blocks_; }
  const Tensor& llama_final_norm() const { return norm_; }  // [d] f32 RMSNorm weight
  const ops::RopeConfig& rope_config() const { return rope_; }

  // Rows the conditioning contributes to the sequence (Turbo: 1 + P; English: 1 + 32 + 1).
  std::int64_t cond_length(const T3Cond& cond) const;
  // Prefill length for `n_text` text tokens (cond + text + BOS; Llama: + the second BOS).
  std::int64_t prefill_length(const T3Cond& cond, std::int64_t n_text) const;
  // Positions the backbone can address (GPT-2: rows of wpe; Llama: max_position_embeddings).
  std::int64_t max_positions() const { return config_.max_position_embeddings; }
  // Speech tokens that can be fed back after the prefill (Llama: speech_pos_emb rows - 1;
  // GPT-2: limited by max_positions() only).
  std::int64_t max_fed_speech_tokens() const;

  // out [C, d]: the reference cond_emb, batch dropped. Turbo: cat(spkr_enc(speaker_emb),
  // speech_emb(prompt)); English: cat(spkr, perceiver(prompt), emotion token).
  void embed_cond(const ExecContext& ctx, const T3Cond& cond, T3State& state, Tensor& out) const;
  // Llama: out [P, d] = speech_emb(prompt) + speech_pos_emb(0..P-1) (or cond.prompt_emb), the
  // perceiver input. Throws InvalidArgument for GPT-2 configs.
  void embed_prompt(const ExecContext& ctx, const T3Cond& cond, T3State& state, Tensor& out) const;
  // Llama: the perceiver (only with config().use_perceiver).
  const Perceiver& perceiver() const { return perceiver_; }
  // out [n, d] = text_emb(ids) / speech_emb(ids); ids checked against the table size.
  void embed_text(const ExecContext& ctx, std::span<const std::int64_t> ids, T3State& state,
                  Tensor& out) const;
  void embed_speech(const ExecContext& ctx, std::span<const std::int64_t> ids, T3State& state,
                    Tensor& out) const;
  // The prefill input embeddings, BOS included. GPT-2: out [L, d] (reference
  // prepare_input_embeds). Llama: out [state.batch, L, d] with L = prefill_length() (the
  // reference's prepare_input_embeds plus the second BOS row); row 1 is the unconditional one.
  // `text_ids` are used as given (English/Multilingual: already wrapped with SOT .. EOT).
  void prefill_embeds(const ExecContext& ctx, const T3Cond& cond,
                      std::span<const std::int64_t> text_ids, T3State& state, Tensor& out) const;
  // The input embedding of generated token number `index` (0-based): GPT-2 out [1, d] =
  // speech_emb(token); Llama out [state.batch, 1, d] = speech_emb(token) +
  // speech_pos_emb(index + 1) in every row.
  void decode_embeds(const ExecContext& ctx, std::int64_t token, std::int64_t index, T3State& state,
                     Tensor& out) const;

  // A fresh state for up to `capacity` tokens per sequence (sizes the RoPE table; the KV caches
  // take pool blocks as tokens arrive). `batch` sequences run together: 1, or 2 for the Llama
  // CFG pair (GPT-2: 1 only).
  T3State new_state(std::int64_t capacity, std::int64_t batch = 1) const;
  // Clears `state` for a new request (its KV blocks go back to the pool).
  void reset_state(T3State& state, std::int64_t capacity, std::int64_t batch = 1) const;

  // Runs the backbone on embeds (positions state.length() ..), appending to the caches, then the
  // final norm of each sequence's last row into state.hidden [batch, d] and speech_head into
  // state.logits [batch, V]. embeds: [T, d] (batch 1) or [batch, T, d]. Throws InvalidArgument
  // when the positions run past max_positions().
  void forward(const ExecContext& ctx, const Tensor& embeds, T3State& state) const;

  // GPT-2 (Turbo/Nano): the conditioning rows run once into a prefix (Unsupported for Llama,
  // whose perceiver and CFG rows make the prefix request-dependent).
  T3CondPrefix make_cond_prefix(const ExecContext& ctx, const T3Cond& cond) const;
  // The prefill of [cond | text | BOS] into a freshly reset `state` (GPT-2): with `prefix` (made
  // from `cond` by this model) the caches start as its copy and only text + BOS run; the result
  // equals the full prefill up to f32 summation order.
  void prefill(const ExecContext& ctx, const T3Cond& cond, std::span<const std::int64_t> text_ids,
               const T3CondPrefix* prefix, T3State& state) const;

  // Continuous batching (GPT-2 backbone): ONE decode step for B independent sequences. embeds f32
  // [B, d] holds the next input of each (decode_embeds); row b continues states[b] at its own
  // position (wpe[states[b]->length()]). Every weight is read once for all rows; attention runs
  // per row. Each state's hidden [1, d] and logits [1, V] are set as forward() would set them, so
  // per-stream sampling continues unchanged. Throws InvalidArgument for Llama configs, batch-2
  // states or a state at max_positions().
  void forward_batch(const ExecContext& ctx, const Tensor& embeds, std::span<T3State* const> states,
                     T3BatchScratch& scratch) const;

  // Bytes of weights one decode step reads (blocks, final norm, speech head, one embedding row).
  std::size_t decode_weight_bytes() const;

  // The pool every state's KV caches draw their blocks from (shared by concurrent requests).
  // Its dtype is f16 when the matrices were converted to a reduced precision (matrix_dtype
  // bf16/f16/q8_0), which halves the bytes a decode step reads from the cache, and f32 otherwise
  // (as stored or f32: the parity goldens); CHATTERD_KV_F32=1 keeps f32 (side-by-side runs).
  const std::shared_ptr<ops::KvBlockPool>& kv_pool() const { return kv_pool_; }

 private:
  void embed_ids(const ExecContext& ctx, const Tensor& table, std::span<const std::int64_t> ids,
                 const char* what, T3State& state, Tensor& out) const;
  // out [n, d] += table[first .. first + n - 1] (learned position embeddings).
  void add_positions(const ExecContext& ctx, const Tensor& table, std::int64_t first,
                     const char* what, T3State& state, Tensor& out) const;
  void load_llama();
  void load_gpt2();
  void convert_matrices(DType dtype);
  void embed_cond_llama(const ExecContext& ctx, const T3Cond& cond, T3State& state,
                        Tensor& out) const;
  void prefill_embeds_llama(const ExecContext& ctx, const T3Cond& cond,
                            std::span<const std::int64_t> text_ids, T3State& state,
                            Tensor& out) const;
  void forward_llama(const ExecContext& ctx, const Tensor& embeds, T3State& state) const;

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
  // Llama backbone and conditioning.
  Tensor text_pos_emb_;    // [text_pos_emb_rows, d] as stored
  Tensor speech_pos_emb_;  // [speech_pos_emb_rows, d] as stored
  Perceiver perceiver_;
  Tensor emotion_w_;  // [d, 1] f32 emotion_adv_fc weight
  std::vector<layers::LlamaBlock> llama_blocks_;
  Tensor norm_;  // [d] f32 final RMSNorm weight
  ops::RopeConfig rope_;
  std::shared_ptr<ops::KvBlockPool> kv_pool_;
};

}  // namespace chatterd
