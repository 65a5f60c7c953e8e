// T3 parity (golden/t3_<variant>.safetensors): conditioning, prefill embeddings, prefill
// hidden/logits, a teacher-forced KV-cache decode (hidden, raw and processed logits at every
// step) and greedy generation with and without repetition penalty. Sizes, step counts and
// generation parameters come from the golden itself (tensor shapes and __metadata__).
// English/Multilingual goldens (Llama) also check the Perceiver input/output, the emotion token,
// both CFG rows at every step and the CFG-combined prefill logits.

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/thread_pool.h"
#include "models/t3/logits_processors.h"
#include "models/t3/t3_generate.h"
#include "models/t3/t3_model.h"
#include "ops/layout.h"
#include "parity/parity.h"
#include "weights/safetensors.h"

namespace chatterd::parity {
namespace {

std::vector<std::int64_t> ids_of(const Tensor& t) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(t.numel()));
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    out[static_cast<std::size_t>(i)] =
        t.dtype() == DType::I64 ? t.data<std::int64_t>()[i] : t.data<std::int32_t>()[i];
  }
  return out;
}

Tensor ids_tensor(const std::vector<std::int64_t>& ids) {
  Tensor t = Tensor::empty(Shape{1, static_cast<std::int64_t>(ids.size())}, DType::I64);
  std::copy(ids.begin(), ids.end(), t.data<std::int64_t>());
  return t;
}

Tensor with_batch(const Tensor& t) {
  Shape s{1};
  for (int i = 0; i < t.rank(); ++i) s.push_back(t.dim(i));
  return t.reshape(s);
}

std::string metadata_or(const SafetensorsFile& f, const std::string& key, std::string fallback) {
  const auto& m = f.metadata();
  const auto it = m.find(key);
  return it == m.end() ? std::move(fallback) : it->second;
}

t3::SamplingOptions sampling_from_metadata(const SafetensorsFile& f) {
  t3::SamplingOptions s;
  s.min_p = 0.0f;
  const std::string gen = metadata_or(f, "gen", "");
  CHATTERD_CHECK(!gen.empty(), ModelFormatError, "{}: __metadata__ has no 'gen' entry",
                 f.path().string());
  const auto j = nlohmann::json::parse(gen);
  s.temperature = j.value("temperature", s.temperature);
  s.top_k = j.value("top_k", s.top_k);
  s.top_p = j.value("top_p", s.top_p);
  s.repetition_penalty = j.value("repetition_penalty", s.repetition_penalty);
  return s;
}

float gen_float(const SafetensorsFile& f, const char* key, float fallback) {
  const auto j = nlohmann::json::parse(metadata_or(f, "gen", "{}"));
  return j.value(key, fallback);
}

std::int64_t metadata_int(const SafetensorsFile& f, const std::string& key, std::int64_t fallback) {
  const std::string v = metadata_or(f, key, "");
  return v.empty() ? fallback : std::stoll(v);
}

// [B, L, d] -> [B, n, d]: the first n rows of every sequence.
Tensor first_rows(const Tensor& t, std::int64_t n) {
  const std::int64_t b = t.dim(0);
  const std::int64_t d = t.dim(2);
  Tensor out = Tensor::empty(Shape{b, n, d}, DType::F32);
  for (std::int64_t i = 0; i < b; ++i) {
    std::copy_n(t.data<float>() + i * t.dim(1) * d, n * d, out.data<float>() + i * n * d);
  }
  return out;
}

ParityReport run_t3_llama_parity(const ExecContext& ctx, const T3Model& model,
                                 const SafetensorsFile& g, const std::filesystem::path& golden) {
  const T3Config& cfg = model.config();
  ParityReport report(golden.string());

  T3Cond cond;
  cond.speaker_emb = g.get("inputs/speaker_emb").clone();
  cond.prompt_tokens = ids_of(g.get("inputs/cond_prompt_speech_tokens"));
  cond.emotion_adv = g.get("inputs/emotion_adv").data<float>()[0];
  const auto text_ids = ids_of(g.get("inputs/text_tokens"));  // synthetic, SOT .. EOT included
  const auto tf_tokens = ids_of(g.get("inputs/tf_speech_tokens"));
  const auto n_tf = static_cast<std::int64_t>(tf_tokens.size());
  CHATTERD_CHECK(n_tf >= 1, ModelFormatError, "{}: inputs/tf_speech_tokens is empty",
                 golden.string());
  const float cfg_weight = gen_float(g, "cfg_weight", cfg.generate.cfg_weight);
  const std::int64_t batch = g.get("embeds/prefill_inputs_embeds").dim(0);
  T3State state = model.new_state(model.prefill_length(cond, std::ssize(text_ids)) + n_tf, batch);

  // Conditioning: spkr | perceiver(prompt + speech positions) | emotion.
  Tensor cond_emb;
  model.embed_cond(ctx, cond, state, cond_emb);
  const std::int64_t c = cond_emb.dim(0);
  report.compare("cond/spkr_token", cond_emb.narrow0(0, 1), g.get("cond/spkr_token"));
  Tensor prompt;
  model.embed_prompt(ctx, cond, state, prompt);
  report.compare("cond/perceiver_in", with_batch(prompt), g.get("cond/perceiver_in"));
  if (cfg.use_perceiver) {
    report.compare("cond/perceiver_out",
                   with_batch(cond_emb.narrow0(1, model.perceiver().num_queries())),
                   g.get("cond/perceiver_out"));
  }
  if (cfg.emotion_adv) {
    report.compare("cond/emotion_token", with_batch(cond_emb.narrow0(c - 1, 1)),
                   g.get("cond/emotion_token"));
  }
  report.compare("cond/cond_emb", with_batch(cond_emb), g.get("cond/cond_emb"));

  // Prefill embeddings: the CFG pair; the backbone gets one more row (the second BOS).
  Tensor embeds;
  model.prefill_embeds(ctx, cond, text_ids, state, embeds);
  report.compare("embeds/prepare_input_embeds", first_rows(embeds, embeds.dim(1) - 1),
                 g.get("embeds/prepare_input_embeds"));
  report.compare("embeds/prefill_inputs_embeds", embeds, g.get("embeds/prefill_inputs_embeds"));

  model.forward(ctx, embeds, state);
  report.compare("prefill/hidden_last", state.hidden, g.get("prefill/hidden_last"));
  report.compare("prefill/logits_last", state.logits, g.get("prefill/logits_last"));
  const std::int64_t d = cfg.hidden_size;
  const std::int64_t v = cfg.speech_vocab_size;
  if (batch == 2) {
    Tensor cfg_logits = Tensor::empty(Shape{1, v}, DType::F32);
    const float* l = state.logits.data<float>();
    for (std::int64_t j = 0; j < v; ++j) {
      cfg_logits.data<float>()[j] = l[j] + cfg_weight * (l[j] - l[v + j]);
    }
    report.compare("prefill/cfg_logits", cfg_logits, g.get("prefill/cfg_logits"));
  }

  // Teacher-forced decode: step 0 = prefill; step k feeds tf_tokens[k - 1] at speech pos k.
  Tensor hidden = Tensor::empty(Shape{batch, n_tf, d}, DType::F32);
  Tensor logits = Tensor::empty(Shape{batch, n_tf, v}, DType::F32);
  const std::int64_t n_fed = std::max<std::int64_t>(n_tf - 1, 0);
  Tensor decode_embeds = Tensor::empty(Shape{batch, n_fed, d}, DType::F32);
  std::vector<std::int64_t> history{cfg.start_speech_token};
  for (std::int64_t step = 0; step < n_tf; ++step) {
    if (step > 0) {
      const std::int64_t tok = tf_tokens[static_cast<std::size_t>(step - 1)];
      Tensor e;
      model.decode_embeds(ctx, tok, step - 1, state, e);
      for (std::int64_t b = 0; b < batch; ++b) {
        std::copy_n(e.data<float>() + b * d, d,
                    decode_embeds.data<float>() + (b * n_fed + step - 1) * d);
      }
      model.forward(ctx, e, state);
      history.push_back(tok);  // English history: [BOS] + generated
    }
    for (std::int64_t b = 0; b < batch; ++b) {
      std::copy_n(state.hidden.data<float>() + b * d, d,
                  hidden.data<float>() + (b * n_tf + step) * d);
      std::copy_n(state.logits.data<float>() + b * v, v,
                  logits.data<float>() + (b * n_tf + step) * v);
    }
  }
  report.compare("tf/decode_inputs_embeds", decode_embeds, g.get("tf/decode_inputs_embeds"));
  report.compare("tf/hidden", hidden, g.get("tf/hidden"));
  report.compare("tf/logits", logits, g.get("tf/logits"));
  if (g.contains("tf/rep_penalty_ids_last_step")) {
    report.compare_exact("tf/rep_penalty_ids_last_step", ids_tensor(history),
                         g.get("tf/rep_penalty_ids_last_step"));
  }

  // Greedy generation with the generate() parameters of the golden.
  t3::SamplingOptions sampling;
  sampling.top_k = 0;
  sampling.temperature = gen_float(g, "temperature", cfg.generate.temperature);
  sampling.min_p = gen_float(g, "min_p", cfg.generate.min_p);
  sampling.top_p = gen_float(g, "top_p", cfg.generate.top_p);
  sampling.repetition_penalty = gen_float(g, "repetition_penalty", cfg.generate.repetition_penalty);
  sampling.greedy = true;
  for (const char* name : {"greedy", "greedy_norep"}) {
    const std::string key = std::string(name) + "/tokens";
    if (!g.contains(key)) continue;
    const Tensor expected = g.get(key);
    T3GenerateOptions gen;
    gen.sampling = sampling;
    if (std::string(name) == "greedy_norep") gen.sampling.repetition_penalty = 1.0f;
    gen.cfg_weight = cfg_weight;
    gen.exaggeration = gen_float(g, "exaggeration", cond.emotion_adv);
    gen.max_gen_len = metadata_int(g, "greedy_steps_requested", expected.numel());
    const auto result = generate_speech_tokens(ctx, model, cond, text_ids, gen, state);
    report.compare_exact(key, ids_tensor(result.tokens), expected);
  }
  return report;
}

}  // namespace

ParityReport run_t3_parity(const std::filesystem::path& model_dir,
                           const std::filesystem::path& golden, const ParityOptions& options) {
  const auto g = SafetensorsFile::open(golden);
  std::unique_ptr<ThreadPool> pool;
  if (options.n_threads > 1) pool = std::make_unique<ThreadPool>(options.n_threads);
  const ExecContext ctx{pool.get()};

  const auto model = T3Model::load(model_dir);
  if (model->is_llama()) return run_t3_llama_parity(ctx, *model, *g, golden);
  const T3Config& cfg = model->config();
  ParityReport report(golden.string());

  // Inputs.
  T3Cond cond;
  cond.speaker_emb = g->get("inputs/speaker_emb").clone();
  cond.prompt_tokens = ids_of(g->get("inputs/cond_prompt_speech_tokens"));
  const auto text_ids = ids_of(g->get("inputs/text_tokens"));
  const auto tf_tokens = ids_of(g->get("inputs/tf_speech_tokens"));
  const auto n_tf = static_cast<std::int64_t>(tf_tokens.size());
  CHATTERD_CHECK(n_tf >= 1, ModelFormatError, "{}: inputs/tf_speech_tokens is empty",
                 golden.string());

  T3State state = model->new_state(model->prefill_length(cond, std::ssize(text_ids)) + n_tf);

  // Conditioning and prefill embeddings.
  Tensor cond_emb;
  model->embed_cond(ctx, cond, state, cond_emb);
  report.compare("cond/spkr_token", cond_emb.narrow0(0, 1), g->get("cond/spkr_token"));
  report.compare("cond/cond_emb", with_batch(cond_emb), g->get("cond/cond_emb"));
  Tensor embeds;
  model->prefill_embeds(ctx, cond, text_ids, state, embeds);
  report.compare("embeds/prepare_input_embeds", with_batch(embeds),
                 g->get("embeds/prepare_input_embeds"));
  report.compare("embeds/prefill_inputs_embeds", with_batch(embeds),
                 g->get("embeds/prefill_inputs_embeds"));

  // Prefill.
  model->forward(ctx, embeds, state);
  report.compare("prefill/hidden_last", state.hidden, g->get("prefill/hidden_last"));
  report.compare("prefill/logits_last", state.logits, g->get("prefill/logits_last"));

  // Teacher-forced decode: step 0 = prefill, step k feeds tf_tokens[k - 1].
  const t3::SamplingOptions sampling = sampling_from_metadata(*g);
  const std::int64_t d = cfg.hidden_size;
  const std::int64_t v = cfg.speech_vocab_size;
  Tensor hidden = Tensor::empty(Shape{1, n_tf, d}, DType::F32);
  Tensor logits = Tensor::empty(Shape{1, n_tf, v}, DType::F32);
  Tensor processed = Tensor::empty(Shape{1, n_tf, v}, DType::F32);
  Tensor decode_embeds =
      Tensor::empty(Shape{1, std::max<std::int64_t>(n_tf - 1, 0), d}, DType::F32);
  std::vector<std::int64_t> history{cfg.start_speech_token};
  for (std::int64_t step = 0; step < n_tf; ++step) {
    if (step > 0) {
      const std::int64_t tok = tf_tokens[static_cast<std::size_t>(step - 1)];
      Tensor e;
      model->embed_speech(ctx, std::span<const std::int64_t>(&tok, 1), state, e);
      std::copy_n(e.data<float>(), d, decode_embeds.data<float>() + (step - 1) * d);
      model->forward(ctx, e, state);
      // Turbo history: generated tokens only (BOS only at step 0).
      history.assign(tf_tokens.begin(), tf_tokens.begin() + step);
    }
    std::copy_n(state.hidden.data<float>(), d, hidden.data<float>() + step * d);
    float* lrow = logits.data<float>() + step * v;
    std::copy_n(state.logits.data<float>(), v, lrow);
    float* prow = processed.data<float>() + step * v;
    std::copy_n(lrow, v, prow);
    t3::process_logits(std::span<float>(prow, static_cast<std::size_t>(v)), history, sampling,
                       t3::ProcessorChain::Turbo);
  }
  report.compare("tf/decode_inputs_embeds", decode_embeds, g->get("tf/decode_inputs_embeds"));
  report.compare("tf/hidden", hidden, g->get("tf/hidden"));
  report.compare("tf/logits", logits, g->get("tf/logits"));
  report.compare("tf/processed_logits", processed, g->get("tf/processed_logits"));
  if (g->contains("tf/rep_penalty_ids_last_step")) {
    report.compare_exact("tf/rep_penalty_ids_last_step", ids_tensor(history),
                         g->get("tf/rep_penalty_ids_last_step"));
  }

  // Greedy generation (argmax instead of multinomial), with and without repetition penalty.
  for (const char* name : {"greedy", "greedy_norep"}) {
    const std::string key = std::string(name) + "/tokens";
    if (!g->contains(key)) continue;
    const Tensor expected = g->get(key);
    T3GenerateOptions gen;
    gen.sampling = sampling;
    gen.sampling.greedy = true;
    if (std::string(name) == "greedy_norep") gen.sampling.repetition_penalty = 1.0f;
    const std::string max_len = metadata_or(*g, "max_gen_len_or_new_tokens", "");
    gen.max_gen_len = max_len.empty() ? expected.numel() - 1 : std::stoll(max_len);
    const auto result = generate_speech_tokens(ctx, *model, cond, text_ids, gen, state);
    report.compare_exact(key, ids_tensor(result.tokens), expected);
  }
  return report;
}

}  // namespace chatterd::parity
