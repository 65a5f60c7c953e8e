#pragma once
// Turbo/Nano speech-token generation (T3.inference_turbo), one request at a time:
//   1. prefill [cond | text | BOS]; process the last logits with history [BOS]; sample (or argmax)
//      the first token -- it is NOT checked for EOS (as in the reference);
//   2. up to max_gen_len steps: feed speech_emb(token) (wpe inside), process the logits with
//      history = every token generated so far, stop if every score is -inf, sample, stop at EOS;
//   3. drop a trailing EOS.
// Processor chain: temperature -> top-k -> top-p -> repetition penalty (logits_processors.h).
// speech_tokens_for_s3gen() is the separate post-processing before S3Gen.

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "models/t3/logits_processors.h"
#include "models/t3/t3_cond.h"
#include "models/t3/t3_model.h"
#include "models/t3/t3_state.h"
#include "ops/exec_context.h"

namespace chatterd {

struct T3GenerateOptions {
  t3::SamplingOptions sampling;  // temperature/top_k/top_p/repetition_penalty, greedy, seed
  // Decode steps after the first token (the reference's max_gen_len): at most max_gen_len + 1
  // tokens come out.
  std::int64_t max_gen_len = 1000;
};

// Called with each generated token that is kept (not the dropped trailing EOS), in order; return
// false to stop generating (the tokens so far are returned, `cancelled` set). Tokens may include
// ids >= 6561 (e.g. a sampled BOS); speech_tokens_for_s3gen() removes them.
using SpeechTokenCallback = std::function<bool(std::int64_t token)>;

struct T3GenerateResult {
  std::vector<std::int64_t> tokens;  // trailing EOS removed
  bool hit_eos = false;              // stopped on the stop token
  bool all_filtered = false;         // stopped because every processed score was -inf
  bool cancelled = false;            // the callback asked to stop
  std::int64_t prefill_length = 0;   // rows of the prefill
};

// `state` is reset and sized for this request (prefill + max_gen_len + 1). Throws InvalidArgument
// for bad options, empty text or a sequence longer than the model's positions.
T3GenerateResult generate_speech_tokens(const ExecContext& ctx, const T3Model& model,
                                        const T3Cond& cond, std::span<const std::int64_t> text_ids,
                                        const T3GenerateOptions& options, T3State& state,
                                        const SpeechTokenCallback& on_token = {});

// Before S3Gen (tts_turbo.py): keep tokens < start_speech_token (6561, the S3 vocabulary), then
// append three S3GEN_SIL (4299) silence tokens.
inline constexpr std::int64_t kS3GenSilenceToken = 4299;
inline constexpr int kS3GenSilenceCount = 3;
std::vector<std::int64_t> speech_tokens_for_s3gen(std::span<const std::int64_t> tokens,
                                                  const T3Config& config);

}  // namespace chatterd
