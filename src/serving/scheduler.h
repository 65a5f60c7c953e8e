#pragma once
// The engine workers: a bounded admission queue and `workers` threads that run synthesis jobs
// (llama.cpp style: I/O threads only submit; a full queue is refused at once and the caller
// answers 429). One worker unless the engine batches concurrent requests
// (TtsEngine::max_concurrency): then that many run at once and the engine shares their work.
//
// Order: a job is *due* once its `start_by` has passed (new requests: at once; a WebSocket
// context's next segment: when the audio already sent would run out). Due jobs go first, higher
// priority first among them, then the earliest start_by; jobs not yet due (a healthy buffer)
// wait behind them, earliest first. Tasks (voice uploads) run alone: no synthesis beside them.
//
// Admission from a real-time budget (optional): every finished synthesis reports its real-time
// factor at the concurrency it started with; the scheduler keeps a running mean per level and
// caps the jobs it runs at once to the largest level whose mean stays within the budget. The
// rest wait in the (bounded) queue. Now and then it probes one level above the cap again, so a
// cap set by a bad stretch does not stick.
//
// Instrumentation: every synthesis job leaves a RequestRecord in Metrics::recent_requests (queue
// wait, first chunk, total, outcome); streamed jobs feed the chunk-gap histogram. With a Tracer,
// the first `trace_requests` syntheses are recorded as Chrome trace events (request_trace.h).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "chatterd/engine/tts_engine.h"
#include "core/trace.h"
#include "serving/metrics.h"

namespace chatterd::serving {

struct SynthesisJob {
  SynthesisRequest request;
  // Called on a worker thread; return false to stop. Must not block for long.
  ChunkCallback on_chunk;
  // Called once on the worker thread: the result, or the exception the engine threw. Not called
  // with a result when `cancelled` was set before the job started (result.cancelled is true then).
  std::function<void(SynthesisResult, std::exception_ptr)> on_done;
  // Set by the transport when the client is gone; checked before the job starts and per chunk.
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
  // When set, a worker runs this instead of a synthesis, with no synthesis running beside it
  // (then on_done with an empty result, or its exception): e.g. adding a voice to the engine.
  std::function<void()> task;
  // Higher runs first among equally due jobs (the request's `priority`).
  int priority = 0;
  // When this job's audio is needed; unset: at once (the submit time).
  std::chrono::steady_clock::time_point start_by{};
};

enum class Admission { Accepted, QueueFull, ShuttingDown };

struct SchedulerConfig {
  std::size_t max_queue = 16;  // admitted jobs, waiting or running (>= 1)
  std::size_t workers = 1;     // jobs running at once at most (>= 1)
  // > 0: run only as many jobs at once as keep the measured real-time factor (synthesis time /
  // audio time) at or below this; 0: off (always `workers`).
  double realtime_budget = 0.0;
  // With a tracer: how many syntheses (the first ones started) are traced.
  std::size_t trace_requests = 20;
  void validate() const;  // throws InvalidArgument
};

struct SchedulerStats {
  std::size_t queued = 0;   // admitted, not started
  std::size_t running = 0;  // started, not finished
  std::size_t cap = 0;      // jobs allowed to run at once now
  std::size_t workers = 0;
  std::uint64_t completed = 0;
  // Mean real-time factor measured per concurrency level (index 0 = one job); < 0: not measured.
  std::vector<double> rtf_by_level;
};

class Scheduler {
 public:
  // `tracer` (optional; nullptr: no tracing, no cost) must outlive the scheduler.
  Scheduler(TtsEngine& engine, SchedulerConfig config, Metrics& metrics, Tracer* tracer = nullptr);
  ~Scheduler();  // stop(); joins the workers
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Never blocks. The queue bound counts running jobs too.
  Admission submit(SynthesisJob job);
  // Refuses new jobs from now on.
  void close();
  // Waits until every admitted job finished or `deadline` passes; returns true when drained.
  bool drain(std::chrono::steady_clock::time_point deadline);
  // close(), cancels whatever is left, joins the workers. Idempotent.
  void stop();
  std::size_t depth() const;
  SchedulerStats stats() const;
  // Seconds a refused client should wait before retrying: the expected time until a slot frees
  // (mean job duration x jobs ahead / cap), 1..60.
  int retry_after_seconds() const;
  // True while a traced synthesis runs (engine-side trace hooks record only then).
  bool tracing_now() const { return traced_running_.load(std::memory_order_relaxed) > 0; }
  // What the engine holds for its requests now (KV cache pool); thread-safe.
  EngineMemoryStats engine_memory() const { return engine_.memory_stats(); }

 private:
  // When and into what a job arrived (for its RequestRecord).
  struct Arrival {
    std::chrono::steady_clock::time_point at;
    std::chrono::system_clock::time_point wall;
    std::size_t running = 0;
    std::size_t queued = 0;
  };
  struct Queued {
    SynthesisJob job;
    std::uint64_t seq = 0;
    Arrival arrival;
  };
  struct Running {
    std::shared_ptr<std::atomic<bool>> cancelled;
    std::uint64_t seq = 0;
    std::size_t max_level = 0;  // the most jobs running at once while this one ran
  };

  void run();
  // Runs one synthesis job on this worker, books its record, metrics and trace events.
  SynthesisResult synthesize(const SynthesisJob& job, std::uint64_t seq, const Arrival& arrival,
                             bool traced, std::exception_ptr& error);
  // Index in queue_ of the job to start now, or npos when none may start (caller holds mutex_).
  std::size_t pick(std::chrono::steady_clock::time_point now) const;
  std::size_t cap() const;                                     // caller holds mutex_
  void record(std::size_t level, double rtf, double seconds);  // caller holds mutex_

  TtsEngine& engine_;
  const SchedulerConfig config_;
  Metrics& metrics_;
  Tracer* const tracer_;
  std::size_t traced_started_ = 0;  // guarded by mutex_
  std::atomic<int> traced_running_{0};
  mutable std::mutex mutex_;
  std::condition_variable wake_;     // workers: a job arrived, a slot freed, or stopping
  std::condition_variable drained_;  // drain(): a job finished
  std::vector<Queued> queue_;        // small: linear scans are cheaper than a heap here
  std::vector<Running> running_;
  bool task_running_ = false;
  std::uint64_t next_seq_ = 0;
  std::size_t active_ = 0;  // queued + running
  bool closed_ = false;
  bool stopping_ = false;
  // Admission budget state.
  std::vector<double> rtf_mean_;  // per level; < 0: not measured
  std::uint64_t completed_ = 0;
  double mean_job_seconds_ = -1.0;  // < 0: no job finished yet
  std::vector<std::thread> workers_;
};

}  // namespace chatterd::serving
