#pragma once
// The owner loop of continuous T3 batching (llama.cpp style: one thread owns the model state,
// callers only submit). Requests from any number of threads join a bounded queue; the loop admits
// them between decode steps -- at most one prefill per step while others run, so running streams
// stall for one prefill at most -- runs batcher steps over everyone (T3StreamBatcher: the CPU's
// T3BatchGenerator or a device's), and retires streams as they finish. Tokens reach each caller
// through its own channel, so the caller's per-token work (the vocoder) runs on the caller's thread
// and never stalls the loop.
//
// Cancellation: the caller's callback returning false, or stop(), makes the stream leave at the
// next step (within one decode step).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "chatterd/engine/tts_engine.h"
#include "models/t3/t3_batch_generate.h"
#include "models/t3/t3_stream_batcher.h"
#include "ops/exec_context.h"

namespace chatterd {

struct T3BatchLoopConfig {
  std::int64_t max_batch = 8;  // streams decoded together
  std::size_t max_queue = 64;  // waiting streams beyond max_batch (>= 1); more are refused
  // Solo tickets (try_solo) may be granted. Off when the batcher owns a device only the loop's
  // thread may drive.
  bool solo = true;
  void validate() const;
};

struct T3BatchLoopStats {
  std::int64_t solo = 0;  // streams that found the loop idle and ran on their own thread
  std::int64_t steps = 0;
  std::int64_t rows = 0;  // rows / steps = mean batch size
  std::int64_t admitted = 0;
  std::int64_t completed = 0;
  std::int64_t refused = 0;
  std::int64_t max_running = 0;
};

class T3BatchLoop {
 public:
  // Makes the loop's batcher for config.max_batch streams (again after a step fails). Called on
  // the constructing thread first, then on the loop's thread.
  using BatcherFactory = std::function<std::unique_ptr<T3StreamBatcher>()>;

  // The CPU batcher (T3BatchGenerator). `model` and the pool behind `ctx` must outlive the loop.
  T3BatchLoop(const T3Model& model, ExecContext ctx, T3BatchLoopConfig config);
  // Any batcher (T3CudaBatcher). The pool behind `ctx` must outlive the loop.
  T3BatchLoop(BatcherFactory make_batcher, ExecContext ctx, T3BatchLoopConfig config);
  ~T3BatchLoop();  // stop()
  T3BatchLoop(const T3BatchLoop&) = delete;
  T3BatchLoop& operator=(const T3BatchLoop&) = delete;

  // Generates on the loop, calling `on_token` on THIS thread for each token (return false to
  // cancel), and returns when the stream is finished: the same result generate_speech_tokens()
  // gives. Throws what generation throws (InvalidArgument for bad input), Unavailable when the
  // queue is full or the loop is stopping.
  T3GenerateResult generate(const T3Cond& cond, std::span<const std::int64_t> text_ids,
                            const T3GenerateOptions& options,
                            const SpeechTokenCallback& on_token = {});

  // The fast path for a stream with nobody to batch with: while the returned ticket lives, the
  // caller generates on its own thread (generate_speech_tokens; the same tokens), skipping the
  // loop's thread hop and the loop thread competing with the caller's vocoder work for the cores
  // (a lone stream ran ~1.4x slower through the loop). Granted when no stream is queued or in
  // the loop and no other solo ticket is out; streams that come meanwhile go to the loop.
  class SoloTicket {
   public:
    explicit SoloTicket(T3BatchLoop& loop) : loop_(&loop) {}
    SoloTicket(SoloTicket&& o) noexcept : loop_(std::exchange(o.loop_, nullptr)) {}
    SoloTicket& operator=(SoloTicket&&) = delete;
    SoloTicket(const SoloTicket&) = delete;
    SoloTicket& operator=(const SoloTicket&) = delete;
    ~SoloTicket();

   private:
    T3BatchLoop* loop_;
  };
  std::optional<SoloTicket> try_solo();

  // Cancels every stream (running ones leave at the next step) and joins the loop. Idempotent.
  void stop();

  T3BatchLoopStats stats() const;
  const T3BatchLoopConfig& config() const { return config_; }
  // Each step over at least one stream is reported to `observer` (nullptr: none) from the
  // loop's thread; see EngineObserver.
  void set_observer(EngineObserver* observer) { observer_.store(observer); }
  std::size_t queued() const;  // admitted to the queue, not yet running

 private:
  // What a caller waits on: tokens in order, then the end.
  struct Channel {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::int64_t> tokens;
    bool done = false;
    T3GenerateResult result;
    std::exception_ptr error;
    std::atomic<bool> cancel{false};
  };
  struct Pending {
    T3Cond cond;
    std::vector<std::int64_t> text_ids;
    T3GenerateOptions options;
    std::shared_ptr<Channel> channel;
  };

  void run();
  void admit(Pending job);
  // make_batcher_() checked: non-null and at least config_.max_batch streams.
  std::unique_ptr<T3StreamBatcher> checked_batcher() const;
  static void finish(Channel& ch, T3GenerateResult result, std::exception_ptr error);

  BatcherFactory make_batcher_;
  ExecContext ctx_;
  T3BatchLoopConfig config_;
  std::unique_ptr<T3StreamBatcher> generator_;  // rebuilt if a step throws
  std::atomic<bool> stop_flag_{false};          // stopping_, readable without the mutex
  std::atomic<EngineObserver*> observer_{nullptr};

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::exception_ptr broken_;  // why the batcher could not be rebuilt (the loop has ended)
  std::int64_t in_loop_ = 0;   // callers inside generate()
  std::int64_t solo_ = 0;      // solo tickets out
  T3BatchLoopStats stats_;
  std::map<T3StreamBatcher::StreamId, std::shared_ptr<Channel>> running_;  // loop thread only
  std::thread thread_;
};

}  // namespace chatterd
