#pragma once
// What a continuous-batching owner loop (pipeline/t3_batch_loop.h) drives: Turbo/Nano streams
// that join at any time, advance together one token per step(), and leave when finished. The
// CPU implementation is T3BatchGenerator; the CUDA one is T3CudaBatcher (t3_cuda_batcher.h).
// Every implementation follows generate_speech_tokens() token for token (the first-token rule,
// the one-step-late callback, the trailing-EOS drop). Not thread-safe: one owner thread.

#include <cstdint>
#include <span>
#include <vector>

#include "models/t3/t3_cond.h"
#include "models/t3/t3_generate.h"
#include "ops/exec_context.h"

namespace chatterd {

class T3StreamBatcher {
 public:
  using StreamId = std::int64_t;
  struct Finished {
    StreamId id = 0;
    T3GenerateResult result;
  };

  virtual ~T3StreamBatcher() = default;

  // Prefills a new stream and picks its first token. Throws InvalidArgument for bad options or
  // text (as generate_speech_tokens) or when max_batch() streams already run. A stream that is
  // finished after its first token (budget 0, all filtered) is reported by the next step().
  // `ctx` is the host context (its thread pool); device work uses the batcher's own.
  virtual StreamId add(const ExecContext& ctx, const T3Cond& cond,
                       std::span<const std::int64_t> text_ids, const T3GenerateOptions& options,
                       SpeechTokenCallback on_token) = 0;
  // One decode step for every running stream; returns the streams that finished in it.
  virtual std::vector<Finished> step(const ExecContext& ctx) = 0;

  virtual std::int64_t running() const = 0;
  virtual std::int64_t max_batch() const = 0;
  // Steps run and rows they carried (rows / steps = mean batch size).
  virtual std::int64_t steps() const = 0;
  virtual std::int64_t rows() const = 0;
};

}  // namespace chatterd
