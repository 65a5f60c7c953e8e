#pragma once
// Continuous batching of Turbo/Nano speech-token generation. Streams join at any time (their
// prefill runs alone, between two steps, so running streams wait one prefill at most) and leave
// at EOS, at their budget, when every score is filtered, or when their callback cancels; every
// step() runs ONE T3Model::forward_batch over all running streams, so the weights are read once
// per step for everyone. Each stream keeps its own sampling settings, RNG, history and KV cache,
// and follows generate_speech_tokens() step for step (same first-token rule, the same one-step-
// late callback, the same trailing-EOS drop): its tokens equal a solo run's up to the float
// summation order of the batched projections (see t3_batch_generate_test.cc).
//
// KV caches: a finished stream's T3State goes back to a free list and is reused by the next
// stream (reset_state keeps its storage), so a steady load allocates nothing per request.
//
// Not thread-safe: one owner (the engine's scheduler loop) calls add() and step().

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "models/t3/sampler.h"
#include "models/t3/t3_generate.h"
#include "models/t3/t3_model.h"
#include "models/t3/t3_state.h"
#include "models/t3/t3_stream_batcher.h"
#include "ops/exec_context.h"

namespace chatterd {

class T3BatchGenerator final : public T3StreamBatcher {
 public:
  // `model` must be GPT-2 (Turbo/Nano) and outlive the generator. max_batch >= 1 bounds the
  // running streams (add() refuses beyond it).
  T3BatchGenerator(const T3Model& model, std::int64_t max_batch);

  // See T3StreamBatcher. The first token is picked as generate_speech_tokens does.
  StreamId add(const ExecContext& ctx, const T3Cond& cond, std::span<const std::int64_t> text_ids,
               const T3GenerateOptions& options, SpeechTokenCallback on_token) override;
  std::vector<Finished> step(const ExecContext& ctx) override;

  std::int64_t running() const override { return static_cast<std::int64_t>(streams_.size()); }
  std::int64_t max_batch() const override { return max_batch_; }
  std::int64_t steps() const override { return steps_; }
  std::int64_t rows() const override { return rows_; }

 private:
  struct Stream {
    StreamId id = 0;
    T3GenerateOptions options;
    std::unique_ptr<T3State> state;
    std::unique_ptr<t3::Sampler> sampler;
    TurboStreamTokens tokens;
  };

  std::int64_t pick(Stream& s, std::span<const std::int64_t> history);
  // Ends `s` when it cannot take another step (budget, positions).
  void finish_if_over(Stream& s);

  const T3Model& model_;
  std::int64_t max_batch_;
  StreamId next_id_ = 0;
  std::vector<Stream> streams_;
  std::vector<std::unique_ptr<T3State>> free_states_;
  T3BatchScratch scratch_;
  std::vector<T3State*> batch_states_;
  std::vector<float> scores_;
  Tensor row_;
  Tensor embeds_;
  std::int64_t steps_ = 0;
  std::int64_t rows_ = 0;
};

}  // namespace chatterd
