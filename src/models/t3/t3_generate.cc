#include "models/t3/t3_generate.h"

#include <algorithm>
#include <limits>

#include "core/check.h"
#include "models/t3/sampler.h"

namespace chatterd {
namespace {

bool all_neg_inf(std::span<const float> v) {
  return std::all_of(v.begin(), v.end(),
                     [](float x) { return x == -std::numeric_limits<float>::infinity(); });
}

}  // namespace

void validate_llama_generate_options(const T3GenerateOptions& o) {
  CHATTERD_CHECK(o.cfg_weight >= 0.0f && o.cfg_weight <= T3GenerateOptions::kMaxCfgWeight,
                 InvalidArgument, "T3 generate: cfg_weight must be in [0, {}], got {}",
                 T3GenerateOptions::kMaxCfgWeight, o.cfg_weight);
  if (o.exaggeration) {
    const float e = *o.exaggeration;
    CHATTERD_CHECK(e >= 0.0f && e <= T3GenerateOptions::kMaxExaggeration, InvalidArgument,
                   "T3 generate: exaggeration must be in [0, {}], got {}",
                   T3GenerateOptions::kMaxExaggeration, e);
  }
  // The English chain divides by the temperature whenever it is not 1.
  CHATTERD_CHECK(o.sampling.temperature > 0.0f, InvalidArgument,
                 "T3 generate: temperature must be > 0 for English/Multilingual, got {}",
                 o.sampling.temperature);
}

namespace {

// English/Multilingual T3.inference with the CFG pair.
T3GenerateResult generate_llama(const ExecContext& ctx, const T3Model& model, const T3Cond& cond_in,
                                std::span<const std::int64_t> text_ids,
                                const T3GenerateOptions& options, T3State& state,
                                const SpeechTokenCallback& on_token) {
  validate_llama_generate_options(options);
  const T3Config& cfg = model.config();
  T3Cond cond = cond_in;
  if (options.exaggeration) cond.emotion_adv = *options.exaggeration;

  T3GenerateResult result;
  result.prefill_length = model.prefill_length(cond, static_cast<std::int64_t>(text_ids.size()));
  CHATTERD_CHECK(result.prefill_length <= model.max_positions(), InvalidArgument,
                 "T3 generate: prefill of {} positions exceeds the model's {}",
                 result.prefill_length, model.max_positions());
  const std::int64_t max_new = std::min(options.max_gen_len, model.max_fed_speech_tokens());
  const std::int64_t batch = options.cfg_weight > 0.0f ? 2 : 1;
  model.reset_state(state, std::min(result.prefill_length + max_new, model.max_positions()), batch);

  t3::Sampler sampler(options.sampling.seed);
  std::vector<float> scores;
  std::vector<std::int64_t> history{cfg.start_speech_token};
  auto& tokens = result.tokens;
  tokens.reserve(static_cast<std::size_t>(max_new));

  model.prefill_embeds(ctx, cond, text_ids, state, state.embeds);
  model.forward(ctx, state.embeds, state);
  const float w = options.cfg_weight;
  for (std::int64_t i = 0; i < max_new; ++i) {
    const auto v = static_cast<std::size_t>(state.logits.dim(1));
    const float* c = state.logits.data<float>();
    const std::int64_t token =
        pick_english_token(std::span<const float>(c, v),
                           batch == 2 ? std::span<const float>(c + v, v) : std::span<const float>(),
                           w, history, options.sampling, sampler, scores);
    if (token < 0) {
      result.all_filtered = true;
      break;
    }
    tokens.push_back(token);
    history.push_back(token);
    if (token == cfg.stop_speech_token) {
      result.hit_eos = true;
      break;
    }
    if (on_token && !on_token(token)) {
      result.cancelled = true;
      break;
    }
    if (i + 1 == max_new) break;  // the reference's last feed is never read
    if (state.length() >= model.max_positions()) break;
    model.decode_embeds(ctx, token, i, state, state.embeds);
    model.forward(ctx, state.embeds, state);
  }
  return result;
}

}  // namespace

void TurboStreamTokens::take_first(std::int64_t token) {
  if (token < 0) {
    result.all_filtered = true;
    done = true;
    return;
  }
  result.tokens.push_back(token);  // not checked for EOS
  pending = true;
}

void TurboStreamTokens::take_next(std::int64_t token) {
  ++decode_steps;
  if (token < 0) {
    result.all_filtered = true;
    finalize();
    return;
  }
  if (pending && !emit(result.tokens.back())) {
    pending = false;
    done = true;  // cancelled: the new token is dropped
    return;
  }
  result.tokens.push_back(token);
  pending = true;
  if (token == eos) {
    result.hit_eos = true;
    finalize();
  }
}

void TurboStreamTokens::finish_if_over(std::int64_t max_gen_len, bool full) {
  if (!done && (decode_steps >= max_gen_len || full)) finalize();
}

bool TurboStreamTokens::emit(std::int64_t token) {
  if (on_token && !on_token(token)) result.cancelled = true;
  return !result.cancelled;
}

void TurboStreamTokens::finalize() {
  auto& tokens = result.tokens;
  if (!tokens.empty() && tokens.back() == eos) {
    tokens.pop_back();
    pending = false;
  }
  if (pending && !tokens.empty()) emit(tokens.back());
  pending = false;
  done = true;
}

void validate_generate_request(const T3GenerateOptions& options,
                               std::span<const std::int64_t> text_ids) {
  options.sampling.validate();
  CHATTERD_CHECK(options.max_gen_len >= 0, InvalidArgument,
                 "T3 generate: max_gen_len must be >= 0, got {}", options.max_gen_len);
  CHATTERD_CHECK(!text_ids.empty(), InvalidArgument, "T3 generate: no text tokens");
}

T3GenerateResult generate_speech_tokens(const ExecContext& ctx, const T3Model& model,
                                        const T3Cond& cond, std::span<const std::int64_t> text_ids,
                                        const T3GenerateOptions& options, T3State& state,
                                        const SpeechTokenCallback& on_token) {
  validate_generate_request(options, text_ids);
  if (model.is_llama()) return generate_llama(ctx, model, cond, text_ids, options, state, on_token);
  const T3Config& cfg = model.config();
  TurboStreamTokens s{.eos = cfg.stop_speech_token, .on_token = on_token};
  T3GenerateResult& result = s.result;
  result.prefill_length = model.prefill_length(cond, static_cast<std::int64_t>(text_ids.size()));
  const std::int64_t capacity = result.prefill_length + options.max_gen_len + 1;
  CHATTERD_CHECK(result.prefill_length <= model.max_positions(), InvalidArgument,
                 "T3 generate: prefill of {} positions (conditioning {} + text {} + BOS) exceeds "
                 "the model's {}",
                 result.prefill_length, model.cond_length(cond), text_ids.size(),
                 model.max_positions());
  model.reset_state(state, std::min(capacity, model.max_positions()));

  t3::Sampler sampler(options.sampling.seed);
  std::vector<float> scores;
  result.tokens.reserve(static_cast<std::size_t>(options.max_gen_len + 1));
  auto pick = [&](std::span<const std::int64_t> history) -> std::int64_t {
    return pick_turbo_token(std::span<const float>(state.logits.data<float>(),
                                                   static_cast<std::size_t>(state.logits.numel())),
                            history, options.sampling, sampler, scores);
  };

  model.prefill(ctx, cond, text_ids, options.cond_prefix, state);
  const std::int64_t bos = cfg.start_speech_token;
  s.take_first(pick(std::span<const std::int64_t>(&bos, 1)));
  for (;;) {
    // No position left for the next input, or the budget spent: the stream ends.
    s.finish_if_over(options.max_gen_len, model.max_positions() <= state.length());
    if (s.done) break;
    const std::int64_t token = result.tokens.back();
    model.embed_speech(ctx, std::span<const std::int64_t>(&token, 1), state, state.embeds);
    model.forward(ctx, state.embeds, state);
    s.take_next(pick(result.tokens));
  }
  return std::move(result);
}

std::int64_t pick_turbo_token(std::span<const float> logits, std::span<const std::int64_t> history,
                              const t3::SamplingOptions& sampling, t3::Sampler& sampler,
                              std::vector<float>& scores) {
  scores.assign(logits.begin(), logits.end());
  t3::process_logits(scores, history, sampling, t3::ProcessorChain::Turbo);
  if (all_neg_inf(scores)) return -1;
  return sampling.greedy ? t3::Sampler::argmax(scores) : sampler.sample(scores);
}

std::int64_t pick_english_token(std::span<const float> cond, std::span<const float> uncond,
                                float cfg_weight, std::span<const std::int64_t> history,
                                const t3::SamplingOptions& sampling, t3::Sampler& sampler,
                                std::vector<float>& scores) {
  scores.assign(cond.begin(), cond.end());
  if (!uncond.empty()) {
    for (std::size_t j = 0; j < scores.size(); ++j)
      scores[j] = cond[j] + cfg_weight * (cond[j] - uncond[j]);
  }
  t3::process_logits(scores, history, sampling, t3::ProcessorChain::English);
  if (all_neg_inf(scores)) return -1;
  return sampling.greedy ? t3::Sampler::argmax(scores) : sampler.sample(scores);
}

std::vector<std::int64_t> speech_tokens_for_s3gen(std::span<const std::int64_t> tokens,
                                                  const T3Config& config) {
  std::vector<std::int64_t> out;
  out.reserve(tokens.size() + kS3GenSilenceCount);
  for (const std::int64_t t : tokens) {
    if (t >= 0 && t < config.start_speech_token) out.push_back(t);
  }
  out.insert(out.end(), kS3GenSilenceCount, kS3GenSilenceToken);
  return out;
}

std::vector<std::int64_t> drop_invalid_speech_tokens(std::span<const std::int64_t> tokens,
                                                     const T3Config& config) {
  // Both searched over the whole sequence, as the reference does (an EOS before the SOS: empty).
  auto begin = tokens.begin();
  const auto sos = std::find(tokens.begin(), tokens.end(), config.start_speech_token);
  if (sos != tokens.end()) begin = sos + 1;
  const auto end = std::find(tokens.begin(), tokens.end(), config.stop_speech_token);
  std::vector<std::int64_t> out;
  if (end < begin) return out;
  out.reserve(static_cast<std::size_t>(end - begin));
  for (auto it = begin; it != end; ++it) {
    if (*it >= 0 && *it < config.start_speech_token) out.push_back(*it);
  }
  return out;
}

}  // namespace chatterd
