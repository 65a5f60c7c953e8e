#pragma once
// Turbo/Nano speech-token generation (T3.inference_turbo), one request at a time:
//   1. prefill [cond | text | BOS]; process the last logits with history [BOS]; sample (or argmax)
//      the first token -- it is NOT checked for EOS (as in the reference);
//   2. up to max_gen_len steps: feed speech_emb(token) (wpe inside), process the logits with
//      history = every token generated so far, stop if every score is -inf, sample, stop at EOS;
//   3. drop a trailing EOS.
// Processor chain: temperature -> top-k -> top-p -> repetition penalty (logits_processors.h).
// speech_tokens_for_s3gen() is the separate post-processing before S3Gen.
//
// English/Multilingual (T3.inference), Llama backbone:
//   1. prefill the CFG pair (row 0 cond, row 1 uncond = text embeddings zeroed) with
//      [cond | text | BOS | BOS]; with cfg_weight == 0 only row 0 is run (exact: logits = cond;
//      the reference crashes there);
//   2. up to max_new_tokens steps: l = cond + cfg_weight * (cond - uncond); English chain
//      (repetition penalty -> temperature -> min-p -> top-p) with history [BOS] + generated;
//      sample (or argmax); stop when the token is EOS (6562, kept in `tokens` as the reference
//      does); else feed speech_emb(token) + speech_pos_emb(i + 1) to both rows.
//   Post-processing: drop_invalid_tokens() then keep ids < 6561 (speech_tokens_for_s3gen_llama).

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "models/t3/logits_processors.h"
#include "models/t3/sampler.h"
#include "models/t3/t3_cond.h"
#include "models/t3/t3_model.h"
#include "models/t3/t3_state.h"
#include "ops/exec_context.h"

namespace chatterd {

struct T3GenerateOptions {
  t3::SamplingOptions sampling;  // temperature/top_k/top_p/repetition_penalty, greedy, seed
  // Decode steps after the first token (the reference's max_gen_len): at most max_gen_len + 1
  // tokens come out.
  // English/Multilingual: the number of tokens generated at most (the reference's
  // max_new_tokens) -- the same field, read as max_new_tokens there.
  std::int64_t max_gen_len = 1000;
  // English/Multilingual only (Turbo/Nano ignore them, as the reference does).
  // Classifier-free guidance weight, in [0, 3]; 0 runs a single (conditional) row.
  float cfg_weight = 0.5f;
  // Exaggeration (emotion_adv) in [0, 2]; unset: the value carried by the conditioning.
  std::optional<float> exaggeration;
  // Turbo/Nano: the voice's conditioning prefix (T3Model::make_cond_prefix of the same cond), or
  // null to run the whole prefill. Must outlive the call.
  const T3CondPrefix* cond_prefix = nullptr;

  // Valid ranges (besides `sampling`'s own).
  static constexpr float kMaxCfgWeight = 3.0f;
  static constexpr float kMaxExaggeration = 2.0f;
};

// Called with each generated token that is kept (not the trailing EOS), in order; return
// false to stop generating (the tokens so far are returned, `cancelled` set). Tokens may include
// ids >= 6561 (e.g. a sampled BOS); speech_tokens_for_s3gen() removes them.
using SpeechTokenCallback = std::function<bool(std::int64_t token)>;

struct T3GenerateResult {
  std::vector<std::int64_t> tokens;  // Turbo: trailing EOS removed; English: EOS kept
  bool hit_eos = false;              // stopped on the stop token
  bool all_filtered = false;         // stopped because every processed score was -inf
  bool cancelled = false;            // the callback asked to stop
  std::int64_t prefill_length = 0;   // rows of the prefill
};

// The token rules of one Turbo/Nano stream, as generate_speech_tokens applies them; the batchers
// (T3BatchGenerator, T3CudaBatcher) keep one per stream. The first token is not checked for EOS;
// the callback sees each token one step late, once it is known not to be a trailing EOS; a
// cancelled stream drops the token it was about to keep; a trailing EOS is dropped at the end.
struct TurboStreamTokens {
  std::int64_t eos = 0;  // the stop token
  SpeechTokenCallback on_token;
  T3GenerateResult result;
  std::int64_t decode_steps = 0;
  bool pending = false;  // result.tokens.back() not reported yet
  bool done = false;

  // The pick on the prefill's logits (-1: every score filtered, the stream ends).
  void take_first(std::int64_t token);
  // A decode step's pick: counts the step, then ends the stream (filtered, cancelled, EOS) or
  // keeps the token.
  void take_next(std::int64_t token);
  // Ends a running stream whose budget (max_gen_len decode steps) is spent or that has no
  // position left (`full`).
  void finish_if_over(std::int64_t max_gen_len, bool full);

 private:
  bool emit(std::int64_t token);
  void finalize();
};

// Throws InvalidArgument for bad sampling options, a negative max_gen_len or empty text (every
// backend's generate checks these first).
void validate_generate_request(const T3GenerateOptions& options,
                               std::span<const std::int64_t> text_ids);

// `state` is reset and sized for this request (prefill + max_gen_len + 1). Throws InvalidArgument
// for bad options, empty text or a sequence longer than the model's positions.
T3GenerateResult generate_speech_tokens(const ExecContext& ctx, const T3Model& model,
                                        const T3Cond& cond, std::span<const std::int64_t> text_ids,
                                        const T3GenerateOptions& options, T3State& state,
                                        const SpeechTokenCallback& on_token = {});

// One Turbo/Nano pick: `logits` through the Turbo processor chain (with `history`) into `scores`,
// then argmax (greedy) or a draw from `sampler`. -1 when every processed score is -inf.
// generate_speech_tokens and the batch generator share it.
std::int64_t pick_turbo_token(std::span<const float> logits, std::span<const std::int64_t> history,
                              const t3::SamplingOptions& sampling, t3::Sampler& sampler,
                              std::vector<float>& scores);

// One English/Multilingual pick: scores = cond + cfg_weight * (cond - uncond) (just cond when
// `uncond` is empty), the English chain with `history`, then argmax (greedy) or a draw from
// `sampler`. -1 when every processed score is -inf. generate_speech_tokens and the CUDA batcher
// share it.
std::int64_t pick_english_token(std::span<const float> cond, std::span<const float> uncond,
                                float cfg_weight, std::span<const std::int64_t> history,
                                const t3::SamplingOptions& sampling, t3::Sampler& sampler,
                                std::vector<float>& scores);
// Throws InvalidArgument for English/Multilingual options out of range (cfg_weight,
// exaggeration, temperature).
void validate_llama_generate_options(const T3GenerateOptions& options);

// Before S3Gen (tts_turbo.py): keep tokens < start_speech_token (6561, the S3 vocabulary), then
// append three S3GEN_SIL (4299) silence tokens.
inline constexpr std::int64_t kS3GenSilenceToken = 4299;
inline constexpr int kS3GenSilenceCount = 3;
std::vector<std::int64_t> speech_tokens_for_s3gen(std::span<const std::int64_t> tokens,
                                                  const T3Config& config);

// English/Multilingual (tts.py / mtl_tts.py): drop_invalid_tokens -- keep what follows the first
// start_speech_token (6561) if any, up to the first stop_speech_token (6562) if any -- then keep
// ids < 6561. The multilingual reference skips that last filter, but ids 6563..8193 would index
// past S3Gen's token table, so it is applied to both. No silence tokens are appended.
std::vector<std::int64_t> drop_invalid_speech_tokens(std::span<const std::int64_t> tokens,
                                                     const T3Config& config);

}  // namespace chatterd
