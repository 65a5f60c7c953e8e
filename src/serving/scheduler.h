#pragma once
// The engine worker: a bounded admission queue and ONE thread that runs synthesis jobs in order
// (engines serialise their own thread pool anyway; one owner keeps model state single-threaded).
// I/O threads only submit; a full queue is refused at once (the caller answers 429).

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "chatterd/engine/tts_engine.h"
#include "serving/metrics.h"

namespace chatterd::serving {

struct SynthesisJob {
  SynthesisRequest request;
  // Called on the worker thread; return false to stop. Must not block for long.
  ChunkCallback on_chunk;
  // Called once on the worker thread: the result, or the exception the engine threw. Not called
  // with a result when `cancelled` was set before the job started (result.cancelled is true then).
  std::function<void(SynthesisResult, std::exception_ptr)> on_done;
  // Set by the transport when the client is gone; checked before the job starts and per chunk.
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
  // When set, the worker runs this instead of a synthesis (then on_done with an empty result, or
  // its exception): work that must not overlap synthesis, such as adding a voice to the engine.
  std::function<void()> task;
};

enum class Admission { Accepted, QueueFull, ShuttingDown };

class Scheduler {
 public:
  Scheduler(TtsEngine& engine, std::size_t max_queue, Metrics& metrics);
  ~Scheduler();  // stop(); joins the worker
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Never blocks. The queue bound counts the running job too.
  Admission submit(SynthesisJob job);
  // Refuses new jobs from now on.
  void close();
  // Waits until every admitted job finished or `deadline` passes; returns true when drained.
  bool drain(std::chrono::steady_clock::time_point deadline);
  // close(), cancels whatever is left, joins the worker. Idempotent.
  void stop();
  std::size_t depth() const;

 private:
  void run();

  TtsEngine& engine_;
  const std::size_t max_queue_;
  Metrics& metrics_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;     // worker: a job arrived or stopping
  std::condition_variable drained_;  // drain(): a job finished
  std::deque<SynthesisJob> queue_;
  std::shared_ptr<std::atomic<bool>> running_cancel_;  // the running job's flag
  std::size_t active_ = 0;                             // queued + running
  bool closed_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace chatterd::serving
