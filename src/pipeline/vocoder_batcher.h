#pragma once
// VocoderBatcher: the S3Gen flow solves (the CFM estimator runs, which are most of the vocoder's
// cost) of concurrent streams, grouped into batches by one owner thread.
//
// Each streaming request's StreamVocoder encodes its window on its own thread, then hands the
// solve to the batcher through its Stream ticket and waits. The owner thread fires a batch when
//   - full:      max_batch_size windows wait, or every active stream waits (no one else can come);
//   - early:     at least early_fire_ratio x min(max_batch_size, active streams) windows wait;
//   - timeout:   the oldest waiting window is max_wait_ms old;
// and a stream that is alone (one active stream) skips the queue: its solve runs at once on its
// own thread (fast path). A fired batch is sorted by window length and cut into sub-batches whose
// padding stays within max_padding_ratio; each sub-batch is one S3GenFlow::solve_batch.
//
// Windows carry a voice key derived from the voice's CONTENT (VoiceKey: a hash of the S3Gen
// conditionals), not object identity, so two requests that load the same clip share batches
// under cross_voice = false. The estimator takes per-item conditioning (speaker embedding,
// prompt mel, encoder output), so by default windows of different voices batch together.
//
// Results are those of solving each window alone (S3GenFlow::solve_batch: identical on the bf16
// path, within float reordering on f32; tests/unit/pipeline/vocoder_batcher_test.cc).

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "chatterd/core/tensor.h"
#include "chatterd/engine/tts_engine.h"
#include "models/s3gen/s3gen_flow.h"
#include "ops/exec_context.h"
#include "pipeline/stream_vocoder.h"

namespace chatterd {

struct VocoderBatcherConfig {
  std::int64_t max_batch_size = 4;  // windows in one fired batch (>= 1)
  double max_wait_ms = 5.0;         // the oldest waiting window fires at this age (>= 0)
  // Fire once this share of the expected batch (min(max_batch_size, active streams)) waits;
  // in (0, 1]. 1 = only full batches and timeouts.
  double early_fire_ratio = 0.75;
  // A sub-batch's padding frames / its real frames at most this (>= 0); windows are sorted by
  // length first, so similar lengths share a sub-batch.
  double max_padding_ratio = 0.25;
  bool cross_voice = true;  // false: a sub-batch holds one voice key only
  void validate() const;    // InvalidArgument naming the bad field
};

// A content hash of a voice's S3Gen conditionals (prompt tokens, prompt mel, x-vector).
using VoiceKey = std::uint64_t;
VoiceKey voice_key(const S3GenPrompt& prompt);

// One window waiting for its solve.
struct FlowSolveJob {
  const FlowEncoding* encoding = nullptr;
  const Tensor* noise = nullptr;  // z [1, mel, T]
  VoiceKey voice = 0;
  Tensor result;  // x [1, mel, T], filled by the runner
  std::int64_t frames() const { return encoding->mu.dim(2); }
};

struct VocoderBatcherStats {
  std::int64_t windows = 0;                                      // solves done (fast path included)
  std::int64_t sub_batches = 0;                                  // solve_batch calls
  std::array<std::int64_t, kVocoderBatchTriggers> by_trigger{};  // batches, by their trigger
  std::int64_t max_batch = 0;                                    // most windows in one sub-batch
  std::int64_t frames = 0;                                       // real frames solved
  std::int64_t padded_frames = 0;        // padding frames solved alongside them
  std::int64_t mixed_voice_batches = 0;  // sub-batches holding more than one voice key
  std::int64_t max_queue_depth = 0;
  double wait_ms = 0.0;  // sum over windows of submit -> solve start
  std::int64_t active_streams = 0;

  // Batches run: fired by the owner thread, plus fast-path solves.
  std::int64_t fired() const;
  // Windows in batches the owner thread fired (a fast-path solve is one window).
  std::int64_t batched_windows() const {
    return windows - by_trigger[static_cast<std::size_t>(VocoderBatchTrigger::FastPath)];
  }
};

class VocoderBatcher {
 public:
  // Solves a sub-batch: fills every job's result. The default runner is flow.solve_batch.
  using Runner = std::function<void(std::span<FlowSolveJob* const> jobs)>;

  // `flow` and the pool behind `ctx` must outlive the batcher.
  VocoderBatcher(const S3GenFlow& flow, ExecContext ctx, VocoderBatcherConfig config);
  // With an injected runner (tests, other backends).
  VocoderBatcher(Runner runner, VocoderBatcherConfig config);
  ~VocoderBatcher();  // stop()
  VocoderBatcher(const VocoderBatcher&) = delete;
  VocoderBatcher& operator=(const VocoderBatcher&) = delete;

  // One active stream (RAII): counts towards "every active stream waits" and the fast path.
  class Stream final : public FlowSolver {
   public:
    ~Stream() override;
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    // Blocks until the window is solved (on the owner thread, or here on the fast path).
    // Throws what the runner throws, Unavailable once the batcher is stopping.
    Tensor solve(const ExecContext& ctx, const FlowEncoding& encoding, const Tensor& z) override;

   private:
    friend class VocoderBatcher;
    Stream(VocoderBatcher& owner, VoiceKey voice) : owner_(owner), voice_(voice) {}
    VocoderBatcher& owner_;
    VoiceKey voice_;
  };
  std::unique_ptr<Stream> join(VoiceKey voice);

  // Fails waiting windows with Unavailable and joins the owner thread. Idempotent.
  void stop();

  VocoderBatcherStats stats() const;
  const VocoderBatcherConfig& config() const { return config_; }
  // Each fired batch is reported to `observer` (nullptr: none) from the thread that ran it.
  void set_observer(EngineObserver* observer);

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    FlowSolveJob* job = nullptr;
    Clock::time_point arrival;
    bool done = false;
    std::exception_ptr error;
  };

  void run();
  // Sorted by length (and voice when !cross_voice), cut where padding would exceed the bound.
  std::vector<std::vector<Pending*>> sub_batches(std::vector<Pending*> batch) const;
  void execute(std::vector<Pending*> batch, VocoderBatchTrigger trigger, std::int64_t queue_depth);
  void leave();

  Runner runner_;
  VocoderBatcherConfig config_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;      // the owner thread: arrivals, stop
  std::condition_variable finished_;  // callers: their window is done
  std::deque<Pending*> queue_;
  std::int64_t active_ = 0;
  bool stopping_ = false;
  VocoderBatcherStats stats_;
  EngineObserver* observer_ = nullptr;
  std::thread thread_;
};

}  // namespace chatterd
