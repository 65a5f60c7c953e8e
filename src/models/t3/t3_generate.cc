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

T3GenerateResult generate_speech_tokens(const ExecContext& ctx, const T3Model& model,
                                        const T3Cond& cond, std::span<const std::int64_t> text_ids,
                                        const T3GenerateOptions& options, T3State& state,
                                        const SpeechTokenCallback& on_token) {
  options.sampling.validate();
  CHATTERD_CHECK(options.max_gen_len >= 0, InvalidArgument,
                 "T3 generate: max_gen_len must be >= 0, got {}", options.max_gen_len);
  CHATTERD_CHECK(!text_ids.empty(), InvalidArgument, "T3 generate: no text tokens");
  const T3Config& cfg = model.config();
  const std::int64_t eos = cfg.stop_speech_token;

  T3GenerateResult result;
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
  std::vector<std::int64_t>& tokens = result.tokens;
  tokens.reserve(static_cast<std::size_t>(options.max_gen_len + 1));

  auto pick = [&](std::span<const std::int64_t> history) -> std::int64_t {
    const float* logits = state.logits.data<float>();
    scores.assign(logits, logits + state.logits.numel());
    t3::process_logits(scores, history, options.sampling, t3::ProcessorChain::Turbo);
    if (all_neg_inf(scores)) return -1;
    return options.sampling.greedy ? t3::Sampler::argmax(scores) : sampler.sample(scores);
  };

  model.prefill_embeds(ctx, cond, text_ids, state, state.embeds);
  model.forward(ctx, state.embeds, state);
  const std::int64_t bos = cfg.start_speech_token;
  std::int64_t token = pick(std::span<const std::int64_t>(&bos, 1));
  if (token < 0) {
    result.all_filtered = true;
    return result;
  }
  tokens.push_back(token);  // the first token is not checked for EOS

  // The callback sees a token once it is known not to be a trailing EOS, i.e. one step late.
  auto emit = [&](std::int64_t t) {
    if (on_token && !on_token(t)) result.cancelled = true;
    return !result.cancelled;
  };
  bool pending = true;  // tokens.back() not yet reported
  for (std::int64_t step = 0; step < options.max_gen_len; ++step) {
    if (model.max_positions() <= state.length()) break;  // no position left for the next input
    model.embed_speech(ctx, std::span<const std::int64_t>(&token, 1), state, state.embeds);
    model.forward(ctx, state.embeds, state);
    token = pick(tokens);
    if (token < 0) {
      result.all_filtered = true;
      break;
    }
    if (pending && !emit(tokens.back())) return result;
    tokens.push_back(token);
    pending = true;
    if (token == eos) {
      result.hit_eos = true;
      break;
    }
  }
  if (!tokens.empty() && tokens.back() == eos) {
    tokens.pop_back();
    pending = false;
  }
  if (pending && !tokens.empty()) emit(tokens.back());
  return result;
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

}  // namespace chatterd
