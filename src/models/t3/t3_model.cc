#include "models/t3/t3_model.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/check.h"
#include "models/model_hparams.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/layout.h"

namespace chatterd {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : "; ") + s;
  return out;
}

// CHATTERD_KV_F32=1 keeps an f32 KV cache for reduced-precision matrices (side-by-side runs).
bool keep_f32_kv() {
  const char* env = std::getenv("CHATTERD_KV_F32");  // NOLINT(concurrency-mt-unsafe): no setenv
  return env != nullptr && std::string_view(env) == "1";
}

}  // namespace

T3Model::T3Model(std::shared_ptr<const WeightStore> store, const T3Config& config,
                 std::optional<DType> matrix_dtype)
    : store_(std::move(store)), config_(config) {
  CHATTERD_CHECK(store_ != nullptr, InvalidArgument, "T3Model: null weight store");
  const auto problems = config_.validate();
  CHATTERD_CHECK(problems.empty(), InvalidArgument, "T3Model: invalid config: {}", join(problems));
  const WeightStore& w = *store_;
  const std::int64_t d = config_.hidden_size;

  text_emb_ = w.get("text_emb.weight", Shape{config_.text_vocab_size, d});
  speech_emb_ = w.get("speech_emb.weight", Shape{config_.speech_vocab_size, d});
  spkr_enc_ = layers::Linear(w, "cond_enc.spkr_enc", config_.speaker_embed_size, d, true);
  speech_head_ =
      layers::Linear(w, "speech_head", d, config_.speech_vocab_size, config_.speech_head_bias);
  if (is_llama()) {
    load_llama();
  } else {
    load_gpt2();
  }
  if (matrix_dtype) convert_matrices(*matrix_dtype);
  ops::KvLayout kv;
  kv.n_kv_heads = is_llama() ? config_.num_kv_heads : config_.num_heads;
  kv.head_dim = config_.head_dim;
  // Models kept as stored (the parity goldens) keep an f32 cache.
  const bool reduced = matrix_dtype.has_value() && *matrix_dtype != DType::F32;
  kv.dtype = reduced && !keep_f32_kv() ? DType::F16 : DType::F32;
  kv_pool_ = std::make_shared<ops::KvBlockPool>(kv);
}

void T3Model::convert_matrices(DType dtype) {
  const ExecContext ctx;  // once at load; single-threaded keeps the constructor pool-free
  for (auto& b : blocks_) b.convert_weights(ctx, dtype);
  for (auto& b : llama_blocks_) b.convert_weights(ctx, dtype);
  speech_head_.convert_weight(ctx, dtype);
}

void T3Model::load_gpt2() {
  const WeightStore& w = *store_;
  const std::int64_t d = config_.hidden_size;

  wpe_ = w.get("tfmr.wpe.weight", Shape{config_.max_position_embeddings, d});
  layers::Gpt2BlockConfig bc;
  bc.hidden_size = d;
  bc.num_heads = config_.num_heads;
  bc.head_dim = config_.head_dim;
  bc.intermediate_size = config_.intermediate_size;
  bc.norm_eps = static_cast<float>(config_.norm_eps);
  bc.attn_bias = config_.attn_bias;
  bc.mlp_bias = config_.mlp_bias;
  blocks_.reserve(static_cast<std::size_t>(config_.num_layers));
  for (std::int64_t l = 0; l < config_.num_layers; ++l) {
    blocks_.emplace_back(w, "tfmr.h." + std::to_string(l), bc);
  }
  ln_f_ = layers::LayerNorm(w, "tfmr.ln_f", d, bc.norm_eps);
}

std::shared_ptr<const T3Model> T3Model::load(const std::filesystem::path& model_dir,
                                             std::optional<DType> matrix_dtype) {
  const Variant variant = detect_variant(model_dir);
  const ModelHparams hp = load_hparams(model_dir, variant);
  const auto store = WeightStore::open(model_dir / t3_file_name(variant));
  return std::make_shared<const T3Model>(store, hp.t3, matrix_dtype);
}

std::int64_t T3Model::cond_length(const T3Cond& cond) const {
  const auto p = static_cast<std::int64_t>(cond.prompt_tokens.size());
  if (!is_llama()) return 1 + p;
  // An empty prompt contributes no rows (the perceiver is not run on nothing).
  const std::int64_t prompt_rows =
      p == 0 ? 0 : (config_.use_perceiver ? perceiver_.num_queries() : p);
  return 1 + prompt_rows + (config_.emotion_adv ? 1 : 0);
}

std::int64_t T3Model::prefill_length(const T3Cond& cond, std::int64_t n_text) const {
  return cond_length(cond) + n_text + (is_llama() ? 2 : 1);
}

std::int64_t T3Model::max_fed_speech_tokens() const {
  return is_llama() && config_.learned_pos_emb ? config_.speech_pos_emb_rows - 1 : max_positions();
}

void T3Model::embed_ids(const ExecContext& ctx, const Tensor& table,
                        std::span<const std::int64_t> ids, const char* what, T3State& state,
                        Tensor& out) const {
  const std::int64_t rows = table.dim(0);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    CHATTERD_CHECK(ids[i] >= 0 && ids[i] < rows, InvalidArgument,
                   "T3: {} token {} at position {} is outside the vocabulary [0, {})", what, ids[i],
                   i, rows);
  }
  const auto n = static_cast<std::int64_t>(ids.size());
  state.ids.resize(Shape{n}, DType::I64);
  std::copy(ids.begin(), ids.end(), state.ids.data<std::int64_t>());
  out.resize(Shape{n, config_.hidden_size}, DType::F32);
  ops::embedding(ctx, table, state.ids, out);
}

void T3Model::embed_text(const ExecContext& ctx, std::span<const std::int64_t> ids, T3State& state,
                         Tensor& out) const {
  embed_ids(ctx, text_emb_, ids, "text", state, out);
}

void T3Model::embed_speech(const ExecContext& ctx, std::span<const std::int64_t> ids,
                           T3State& state, Tensor& out) const {
  embed_ids(ctx, speech_emb_, ids, "speech", state, out);
}

void T3Model::embed_cond(const ExecContext& ctx, const T3Cond& cond, T3State& state,
                         Tensor& out) const {
  validate_t3_cond(cond, config_);
  if (is_llama()) {
    embed_cond_llama(ctx, cond, state, out);
    return;
  }
  const std::int64_t p = cond_length(cond) - 1;
  out.resize(Shape{1 + p, config_.hidden_size}, DType::F32);
  Tensor spkr = out.narrow0(0, 1);
  spkr_enc_.forward(ctx, cond.speaker_emb, spkr);
  if (p == 0) return;
  Tensor prompt = out.narrow0(1, p);
  if (cond.prompt_emb.defined() && cond.prompt_emb.numel() > 0) {
    ops::copy(ctx, cond.prompt_emb, prompt);  // the reference's cached cond_prompt_speech_emb
  } else {
    embed_speech(ctx, cond.prompt_tokens, state, prompt);
  }
}

void T3Model::prefill_embeds(const ExecContext& ctx, const T3Cond& cond,
                             std::span<const std::int64_t> text_ids, T3State& state,
                             Tensor& out) const {
  if (is_llama()) {
    prefill_embeds_llama(ctx, cond, text_ids, state, out);
    return;
  }
  const std::int64_t c = cond_length(cond);
  const auto n = static_cast<std::int64_t>(text_ids.size());
  out.resize(Shape{c + n + 1, config_.hidden_size}, DType::F32);
  Tensor cond_rows = out.narrow0(0, c);
  embed_cond(ctx, cond, state, cond_rows);
  if (n > 0) {
    Tensor text_rows = out.narrow0(c, n);
    embed_text(ctx, text_ids, state, text_rows);
  }
  Tensor bos = out.narrow0(c + n, 1);
  const std::int64_t bos_id = config_.start_speech_token;
  embed_speech(ctx, std::span<const std::int64_t>(&bos_id, 1), state, bos);
}

T3CondPrefix T3Model::make_cond_prefix(const ExecContext& ctx, const T3Cond& cond) const {
  CHATTERD_CHECK(!is_llama(), Unsupported, "T3: a conditioning prefix is for GPT-2 T3 only");
  T3State state;
  const std::int64_t c = cond_length(cond);
  reset_state(state, c);
  embed_cond(ctx, cond, state, state.embeds);
  forward(ctx, state.embeds, state);
  T3CondPrefix prefix;
  prefix.length = c;
  prefix.caches = std::move(state.caches);  // requests share these blocks (copy-on-write)
  return prefix;
}

void T3Model::prefill(const ExecContext& ctx, const T3Cond& cond,
                      std::span<const std::int64_t> text_ids, const T3CondPrefix* prefix,
                      T3State& state) const {
  if (prefix == nullptr || is_llama()) {
    prefill_embeds(ctx, cond, text_ids, state, state.embeds);
    forward(ctx, state.embeds, state);
    return;
  }
  CHATTERD_CHECK(
      prefix->length == cond_length(cond) && prefix->caches.size() == state.caches.size(),
      InvalidArgument,
      "T3: the conditioning prefix ({} rows, {} layers) does not fit "
      "this conditioning ({} rows, {} layers)",
      prefix->length, prefix->caches.size(), cond_length(cond), state.caches.size());
  for (std::size_t l = 0; l < state.caches.size(); ++l) state.caches[l].assign(prefix->caches[l]);
  const auto n = static_cast<std::int64_t>(text_ids.size());
  state.embeds.resize(Shape{n + 1, config_.hidden_size}, DType::F32);
  if (n > 0) {
    Tensor text_rows = state.embeds.narrow0(0, n);
    embed_text(ctx, text_ids, state, text_rows);
  }
  Tensor bos = state.embeds.narrow0(n, 1);
  const std::int64_t bos_id = config_.start_speech_token;
  embed_speech(ctx, std::span<const std::int64_t>(&bos_id, 1), state, bos);
  forward(ctx, state.embeds, state);
}

void T3Model::decode_embeds(const ExecContext& ctx, std::int64_t token, std::int64_t index,
                            T3State& state, Tensor& out) const {
  const std::int64_t d = config_.hidden_size;
  if (!is_llama()) {
    embed_speech(ctx, std::span<const std::int64_t>(&token, 1), state, out);
    return;
  }
  CHATTERD_CHECK(index >= 0 && index < max_fed_speech_tokens(), InvalidArgument,
                 "T3: generated token {} cannot be fed back: speech_pos_emb has {} rows", index,
                 config_.speech_pos_emb_rows);
  out.resize(Shape{state.batch, 1, d}, DType::F32);
  Tensor row0 = out.select0(0);
  embed_speech(ctx, std::span<const std::int64_t>(&token, 1), state, row0);
  if (config_.learned_pos_emb)
    add_positions(ctx, speech_pos_emb_, index + 1, "speech", state, row0);
  for (std::int64_t b = 1; b < state.batch; ++b)
    std::copy_n(row0.data<float>(), d, out.data<float>() + b * d);
}

T3State T3Model::new_state(std::int64_t capacity, std::int64_t batch) const {
  T3State state;
  reset_state(state, capacity, batch);
  return state;
}

void T3Model::reset_state(T3State& state, std::int64_t capacity, std::int64_t batch) const {
  CHATTERD_CHECK(batch == 1 || (is_llama() && batch == 2), InvalidArgument,
                 "T3: batch {} is not supported by the {} backbone (1{})", batch,
                 t3_backbone_name(config_.backbone), is_llama() ? ", or 2 for CFG" : "");
  const auto n_caches = static_cast<std::size_t>(config_.num_layers * batch);
  if (state.caches.size() != n_caches || (n_caches > 0 && state.caches[0].pool() != kv_pool_)) {
    state.caches.assign(n_caches, ops::KvCache(kv_pool_));
  }
  state.batch = batch;
  if (is_llama() && state.rope.n_positions() < capacity) {
    state.rope = ops::build_rope_table(rope_, std::min(capacity, max_positions()));
  }
  for (auto& cache : state.caches) cache.clear();
}

void T3Model::forward(const ExecContext& ctx, const Tensor& embeds, T3State& state) const {
  if (is_llama()) {
    forward_llama(ctx, embeds, state);
    return;
  }
  CHATTERD_CHECK(state.batch == 1, InvalidArgument, "T3 forward: GPT-2 runs batch 1, state has {}",
                 state.batch);
  const std::int64_t d = config_.hidden_size;
  CHATTERD_CHECK(
      embeds.dtype() == DType::F32 && embeds.rank() == 2 && embeds.dim(1) == d && embeds.dim(0) > 0,
      ShapeError, "T3 forward: embeds must be f32 [T > 0, {}], got {}", d, embeds.to_string());
  CHATTERD_CHECK(state.caches.size() == blocks_.size(), InvalidArgument,
                 "T3 forward: state has {} caches for {} layers (use new_state/reset_state)",
                 state.caches.size(), blocks_.size());
  const std::int64_t t = embeds.dim(0);
  const std::int64_t start = state.length();
  CHATTERD_CHECK(start + t <= max_positions(), InvalidArgument,
                 "T3: sequence of {} positions exceeds the model's {} (wpe rows): shorten the "
                 "text or the number of speech tokens",
                 start + t, max_positions());

  // GPT-2 adds wpe at absolute positions, continuing with the cache length.
  state.positions.resize(Shape{t}, DType::I64);
  auto* pos = state.positions.data<std::int64_t>();
  for (std::int64_t i = 0; i < t; ++i) pos[i] = start + i;
  ops::embedding(ctx, wpe_, state.positions, state.pos_emb);
  ops::add(ctx, embeds, state.pos_emb, state.x);

  for (std::size_t l = 0; l < blocks_.size(); ++l) {
    blocks_[l].forward(ctx, state.x, state.caches[l], state.gpt2);
  }
  const Tensor last = state.x.narrow0(t - 1, 1);
  ln_f_.forward(ctx, last, state.hidden);
  speech_head_.forward(ctx, state.hidden, state.logits);
}

void T3Model::forward_batch(const ExecContext& ctx, const Tensor& embeds,
                            std::span<T3State* const> states, T3BatchScratch& s) const {
  CHATTERD_CHECK(!is_llama(), InvalidArgument,
                 "T3 forward_batch: only the GPT-2 backbone batches streams (Llama runs its CFG "
                 "pair through forward())");
  const std::int64_t d = config_.hidden_size;
  const auto batch = static_cast<std::int64_t>(states.size());
  CHATTERD_CHECK(batch > 0 && embeds.dtype() == DType::F32 && embeds.rank() == 2 &&
                     embeds.dim(0) == batch && embeds.dim(1) == d,
                 ShapeError, "T3 forward_batch: embeds must be f32 [{}, {}], got {}", batch, d,
                 embeds.to_string());
  s.positions.resize(Shape{batch}, DType::I64);
  auto* pos = s.positions.data<std::int64_t>();
  for (std::int64_t b = 0; b < batch; ++b) {
    const T3State* st = states[static_cast<std::size_t>(b)];
    CHATTERD_CHECK(st != nullptr && st->batch == 1 && st->caches.size() == blocks_.size(),
                   InvalidArgument,
                   "T3 forward_batch: state {} must be a batch-1 state of {} layers (new_state)", b,
                   blocks_.size());
    pos[b] = st->length();
    CHATTERD_CHECK(pos[b] + 1 <= max_positions(), InvalidArgument,
                   "T3 forward_batch: sequence {} is full ({} of {} positions)", b, pos[b],
                   max_positions());
  }
  ops::embedding(ctx, wpe_, s.positions, s.pos_emb);
  ops::add(ctx, embeds, s.pos_emb, s.x);

  s.caches.resize(static_cast<std::size_t>(batch));
  for (std::size_t l = 0; l < blocks_.size(); ++l) {
    for (std::size_t b = 0; b < s.caches.size(); ++b) s.caches[b] = &states[b]->caches[l];
    blocks_[l].forward_rows(ctx, s.x, s.caches, s.gpt2);
  }
  ln_f_.forward(ctx, s.x, s.hidden);
  speech_head_.forward(ctx, s.hidden, s.logits);
  const std::int64_t v = s.logits.dim(1);
  for (std::int64_t b = 0; b < batch; ++b) {
    T3State& st = *states[static_cast<std::size_t>(b)];
    st.hidden.resize(Shape{1, d}, DType::F32);
    st.logits.resize(Shape{1, v}, DType::F32);
    std::copy_n(s.hidden.data<float>() + b * d, d, st.hidden.data<float>());
    std::copy_n(s.logits.data<float>() + b * v, v, st.logits.data<float>());
  }
}

std::size_t T3Model::decode_weight_bytes() const {
  std::size_t bytes = 0;
  for (const auto& b : blocks_) bytes += b.weight_bytes();
  for (const auto& b : llama_blocks_) bytes += b.weight_bytes();
  const auto d = static_cast<std::size_t>(config_.hidden_size);
  bytes += (is_llama() ? 1 : 2) * d * sizeof(float);  // final norm
  bytes += speech_head_.weight_bytes();
  if (config_.speech_head_bias) {
    bytes += static_cast<std::size_t>(config_.speech_vocab_size) * sizeof(float);
  }
  bytes += speech_emb_.nbytes() / static_cast<std::size_t>(speech_emb_.dim(0));  // one row
  const Tensor& pos = is_llama() ? speech_pos_emb_ : wpe_;
  if (pos.defined() && pos.rank() == 2)
    bytes += pos.nbytes() / static_cast<std::size_t>(pos.dim(0));
  return bytes;
}

}  // namespace chatterd
