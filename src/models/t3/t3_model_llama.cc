// T3Model members of the Llama backbone (English/Multilingual): weights, the Perceiver/emotion
// conditioning, learned text/speech position embeddings, the CFG batch and the backbone pass.
#include <algorithm>
#include <string>

#include "core/check.h"
#include "models/t3/t3_model.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/layout.h"
#include "ops/norm.h"

namespace chatterd {

void T3Model::load_llama() {
  const WeightStore& w = *store_;
  const std::int64_t d = config_.hidden_size;
  if (config_.learned_pos_emb) {
    text_pos_emb_ = w.get("text_pos_emb.emb.weight", Shape{config_.text_pos_emb_rows, d});
    speech_pos_emb_ = w.get("speech_pos_emb.emb.weight", Shape{config_.speech_pos_emb_rows, d});
  }
  if (config_.use_perceiver) perceiver_ = Perceiver(w, "cond_enc.perceiver", config_.perceiver);
  if (config_.emotion_adv) emotion_w_ = w.get_f32("cond_enc.emotion_adv_fc.weight", Shape{d, 1});

  layers::LlamaBlockConfig bc;
  bc.hidden_size = d;
  bc.num_heads = config_.num_heads;
  bc.num_kv_heads = config_.num_kv_heads;
  bc.head_dim = config_.head_dim;
  bc.intermediate_size = config_.intermediate_size;
  bc.norm_eps = static_cast<float>(config_.norm_eps);
  bc.attn_bias = config_.attn_bias;
  bc.mlp_bias = config_.mlp_bias;
  llama_blocks_.reserve(static_cast<std::size_t>(config_.num_layers));
  for (std::int64_t l = 0; l < config_.num_layers; ++l) {
    llama_blocks_.emplace_back(w, "tfmr.layers." + std::to_string(l), bc);
  }
  norm_ = w.get_f32("tfmr.norm.weight", Shape{d});

  rope_.head_dim = config_.head_dim;
  rope_.theta = static_cast<float>(config_.rope_theta);
  if (config_.rope_scaling.enabled) {
    ops::Llama3RopeScaling sc;
    sc.factor = static_cast<float>(config_.rope_scaling.factor);
    sc.low_freq_factor = static_cast<float>(config_.rope_scaling.low_freq_factor);
    sc.high_freq_factor = static_cast<float>(config_.rope_scaling.high_freq_factor);
    sc.original_max_position = config_.rope_scaling.original_max_position_embeddings;
    rope_.llama3 = sc;
  }
}

void T3Model::add_positions(const ExecContext& ctx, const Tensor& table, std::int64_t first,
                            const char* what, T3State& state, Tensor& out) const {
  if (!config_.learned_pos_emb) return;
  const std::int64_t n = out.dim(0);
  CHATTERD_CHECK(first >= 0 && first + n <= table.dim(0), InvalidArgument,
                 "T3: {} positions {}..{} exceed the {} rows of {}_pos_emb", what, first,
                 first + n - 1, table.dim(0), what);
  state.positions.resize(Shape{n}, DType::I64);
  auto* pos = state.positions.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) pos[i] = first + i;
  ops::embedding(ctx, table, state.positions, state.pos_emb);
  ops::add(ctx, out, state.pos_emb, out);
}

void T3Model::embed_prompt(const ExecContext& ctx, const T3Cond& cond, T3State& state,
                           Tensor& out) const {
  CHATTERD_CHECK(is_llama(), InvalidArgument,
                 "T3 embed_prompt: only the Llama variants add speech positions to the prompt");
  validate_t3_cond(cond, config_);
  if (cond.prompt_emb.defined() && cond.prompt_emb.numel() > 0) {
    // The reference's cached cond_prompt_speech_emb already holds the position embeddings.
    out.resize(cond.prompt_emb.shape(), DType::F32);
    ops::copy(ctx, cond.prompt_emb, out);
    return;
  }
  embed_speech(ctx, cond.prompt_tokens, state, out);
  add_positions(ctx, speech_pos_emb_, 0, "speech", state, out);
}

void T3Model::embed_cond_llama(const ExecContext& ctx, const T3Cond& cond, T3State& state,
                               Tensor& out) const {
  const std::int64_t d = config_.hidden_size;
  const std::int64_t c = cond_length(cond);
  const std::int64_t prompt_rows = c - 1 - (config_.emotion_adv ? 1 : 0);
  out.resize(Shape{c, d}, DType::F32);
  Tensor spkr = out.narrow0(0, 1);
  spkr_enc_.forward(ctx, cond.speaker_emb, spkr);
  if (prompt_rows > 0) {
    Tensor rows = out.narrow0(1, prompt_rows);
    if (config_.use_perceiver) {
      embed_prompt(ctx, cond, state, state.prompt);
      perceiver_.forward(ctx, state.prompt, rows, state.perceiver);
    } else {
      embed_prompt(ctx, cond, state, rows);
    }
  }
  if (config_.emotion_adv) {
    // emotion_adv_fc: Linear(1, d, bias=False) of the scalar exaggeration.
    float* e = out.data<float>() + (c - 1) * d;
    const float* w = emotion_w_.data<float>();
    for (std::int64_t i = 0; i < d; ++i) e[i] = cond.emotion_adv * w[i];
  }
}

void T3Model::prefill_embeds_llama(const ExecContext& ctx, const T3Cond& cond,
                                   std::span<const std::int64_t> text_ids, T3State& state,
                                   Tensor& out) const {
  const std::int64_t d = config_.hidden_size;
  const std::int64_t c = cond_length(cond);
  const auto n = static_cast<std::int64_t>(text_ids.size());
  const std::int64_t len = c + n + 2;
  const std::int64_t batch = state.batch;
  out.resize(Shape{batch, len, d}, DType::F32);
  Tensor row0 = out.select0(0);
  Tensor cond_rows = row0.narrow0(0, c);
  embed_cond(ctx, cond, state, cond_rows);
  if (n > 0) {
    Tensor text_rows = row0.narrow0(c, n);
    embed_text(ctx, text_ids, state, text_rows);
    add_positions(ctx, text_pos_emb_, 0, "text", state, text_rows);
  }
  // BOS from prepare_input_embeds, then the bos_embed inference() appends: both at speech pos 0.
  const std::int64_t bos_ids[2] = {config_.start_speech_token, config_.start_speech_token};
  Tensor bos_rows = row0.narrow0(c + n, 2);
  embed_speech(ctx, bos_ids, state, bos_rows);
  for (std::int64_t i = 0; i < 2; ++i) {
    Tensor bos = bos_rows.narrow0(i, 1);
    add_positions(ctx, speech_pos_emb_, 0, "speech", state, bos);
  }
  // Unconditional rows: the same, except the text token embeddings are zeroed (positions kept).
  for (std::int64_t b = 1; b < batch; ++b) {
    Tensor row = out.select0(b);
    ops::copy(ctx, row0, row);
    if (n == 0) continue;
    Tensor text_rows = row.narrow0(c, n);
    std::fill_n(text_rows.data<float>(), text_rows.numel(), 0.0f);
    add_positions(ctx, text_pos_emb_, 0, "text", state, text_rows);
  }
}

void T3Model::forward_llama(const ExecContext& ctx, const Tensor& embeds, T3State& state) const {
  const std::int64_t d = config_.hidden_size;
  const std::int64_t batch = state.batch;
  const bool rank2 = embeds.rank() == 2 && batch == 1;
  CHATTERD_CHECK(embeds.dtype() == DType::F32 &&
                     (rank2 || (embeds.rank() == 3 && embeds.dim(0) == batch)) &&
                     embeds.dim(embeds.rank() - 1) == d && embeds.dim(embeds.rank() - 2) > 0,
                 ShapeError, "T3 forward: embeds must be f32 [{}, T > 0, {}]{}, got {}", batch, d,
                 batch == 1 ? " or [T, d]" : "", embeds.to_string());
  CHATTERD_CHECK(
      state.caches.size() == llama_blocks_.size() * static_cast<std::size_t>(batch),
      InvalidArgument,
      "T3 forward: state has {} caches for {} layers x batch {} (use new_state/reset_state)",
      state.caches.size(), llama_blocks_.size(), batch);
  const std::int64_t t = embeds.dim(embeds.rank() - 2);
  const std::int64_t start = state.length();
  CHATTERD_CHECK(start + t <= max_positions(), InvalidArgument,
                 "T3: sequence of {} positions exceeds the model's {}", start + t, max_positions());
  if (state.rope.n_positions() < start + t) {
    const std::int64_t n = std::max(start + t, 2 * state.rope.n_positions());
    state.rope = ops::build_rope_table(rope_, std::min(n, max_positions()));
  }

  state.x.resize(Shape{batch * t, d}, DType::F32);
  ops::copy(ctx, embeds.reshape({batch * t, d}), state.x);
  const auto b = static_cast<std::size_t>(batch);
  for (std::size_t l = 0; l < llama_blocks_.size(); ++l) {
    llama_blocks_[l].forward(ctx, state.x, std::span<ops::KvCache>(state.caches.data() + l * b, b),
                             start, state.rope, state.llama);
  }
  state.last.resize(Shape{batch, d}, DType::F32);
  for (std::int64_t r = 0; r < batch; ++r) {
    std::copy_n(state.x.data<float>() + (r * t + t - 1) * d, d, state.last.data<float>() + r * d);
  }
  ops::rms_norm(ctx, state.last, &norm_, state.hidden, static_cast<float>(config_.norm_eps));
  speech_head_.forward(ctx, state.hidden, state.logits);
}

}  // namespace chatterd
