#include "serving/scheduler.h"

#include <algorithm>
#include <cmath>

#include "chatterd/core/error.h"
#include "core/check.h"
#include "core/stopwatch.h"
#include "serving/request_trace.h"

namespace chatterd::serving {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kNone = static_cast<std::size_t>(-1);
constexpr std::size_t kMaxWorkers = 64;
// Running means react within a few requests but a single outlier does not set the cap.
constexpr double kMeanWeight = 0.25;
// While capped below `workers`, the level above the cap is measured again this often.
constexpr std::uint64_t kProbeEvery = 16;

double blend(double mean, double value) {
  return mean < 0.0 ? value : mean + kMeanWeight * (value - mean);
}

double unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

RequestOutcome outcome_of(const std::exception_ptr& error, bool cancelled) {
  if (!error) return cancelled ? RequestOutcome::Cancelled : RequestOutcome::Ok;
  try {
    std::rethrow_exception(error);
  } catch (const InvalidArgument&) {
    return RequestOutcome::BadRequest;
  } catch (const Unsupported&) {
    return RequestOutcome::BadRequest;
  } catch (...) {
    return RequestOutcome::Failed;
  }
}

}  // namespace

void SchedulerConfig::validate() const {
  CHATTERD_CHECK(max_queue >= 1, InvalidArgument, "scheduler max_queue must be >= 1, got {}",
                 max_queue);
  CHATTERD_CHECK(workers >= 1 && workers <= kMaxWorkers, InvalidArgument,
                 "scheduler workers must be in [1, {}], got {}", kMaxWorkers, workers);
  CHATTERD_CHECK(std::isfinite(realtime_budget) && realtime_budget >= 0.0, InvalidArgument,
                 "realtime_budget must be >= 0 (0: off), got {}", realtime_budget);
}

Scheduler::Scheduler(TtsEngine& engine, SchedulerConfig config, Metrics& metrics, Tracer* tracer)
    : engine_(engine), config_(config), metrics_(metrics), tracer_(tracer) {
  config_.validate();
  rtf_mean_.assign(config_.workers, -1.0);
  workers_.reserve(config_.workers);
  for (std::size_t i = 0; i < config_.workers; ++i) workers_.emplace_back([this] { run(); });
}

Scheduler::~Scheduler() {
  stop();
}

Admission Scheduler::submit(SynthesisJob job) {
  const Arrival arrival{.at = Clock::now(), .wall = std::chrono::system_clock::now()};
  const bool is_task = static_cast<bool>(job.task);
  RequestRecord refused;
  {
    const std::lock_guard lock(mutex_);
    if (closed_) return Admission::ShuttingDown;
    if (active_ >= config_.max_queue) {
      refused = RequestRecord{.arrival_unix_s = unix_seconds(arrival.wall),
                              .running_at_arrival = running_.size(),
                              .queued_at_arrival = queue_.size(),
                              .text_chars = job.request.text.size(),
                              .streamed = static_cast<bool>(job.on_chunk),
                              .outcome = RequestOutcome::Refused};
    } else {
      ++active_;
      metrics_.queue_depth.store(static_cast<std::int64_t>(active_));
      if (job.start_by == Clock::time_point{}) job.start_by = arrival.at;
      Arrival a = arrival;
      a.running = running_.size();
      a.queued = queue_.size();
      queue_.push_back(Queued{std::move(job), next_seq_++, a});
    }
  }
  if (refused.outcome == RequestOutcome::Refused) {
    if (!is_task) metrics_.record_request(refused);  // outside mutex_: metrics have their own locks
    return Admission::QueueFull;
  }
  wake_.notify_one();
  return Admission::Accepted;
}

void Scheduler::close() {
  const std::lock_guard lock(mutex_);
  closed_ = true;
}

bool Scheduler::drain(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return drained_.wait_until(lock, deadline, [this] { return active_ == 0; });
}

void Scheduler::stop() {
  {
    const std::lock_guard lock(mutex_);
    closed_ = true;
    stopping_ = true;
    for (Queued& q : queue_) q.job.cancelled->store(true);
    for (Running& r : running_) r.cancelled->store(true);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
}

std::size_t Scheduler::depth() const {
  const std::lock_guard lock(mutex_);
  return active_;
}

SchedulerStats Scheduler::stats() const {
  const std::lock_guard lock(mutex_);
  return SchedulerStats{.queued = queue_.size(),
                        .running = running_.size(),
                        .cap = cap(),
                        .workers = config_.workers,
                        .completed = completed_,
                        .rtf_by_level = rtf_mean_};
}

int Scheduler::retry_after_seconds() const {
  const std::lock_guard lock(mutex_);
  if (mean_job_seconds_ <= 0.0) return 1;
  const double rounds = static_cast<double>(queue_.size()) / static_cast<double>(cap()) + 1.0;
  return static_cast<int>(std::clamp(std::ceil(mean_job_seconds_ * rounds), 1.0, 60.0));
}

std::size_t Scheduler::cap() const {
  if (config_.realtime_budget <= 0.0) return config_.workers;
  std::size_t level = 1;  // one job may always run
  while (level < config_.workers &&
         (rtf_mean_[level] < 0.0 || rtf_mean_[level] <= config_.realtime_budget)) {
    ++level;
  }
  return level;
}

void Scheduler::record(std::size_t level, double rtf, double seconds) {
  ++completed_;
  mean_job_seconds_ = blend(mean_job_seconds_, seconds);
  if (level >= 1 && level <= rtf_mean_.size()) {
    rtf_mean_[level - 1] = blend(rtf_mean_[level - 1], rtf);
  }
  const std::size_t c = cap();
  if (c < config_.workers && completed_ % kProbeEvery == 0) rtf_mean_[c] = -1.0;
}

std::size_t Scheduler::pick(Clock::time_point now) const {
  // Cancelled jobs cost nothing: hand them back at once, whatever the limits.
  for (std::size_t i = 0; i < queue_.size(); ++i) {
    if (queue_[i].job.cancelled->load()) return i;
  }
  if (task_running_ || queue_.empty() || running_.size() >= cap()) return kNone;
  const auto better = [now](const Queued& a, const Queued& b) {
    const bool due_a = a.job.start_by <= now;
    const bool due_b = b.job.start_by <= now;
    if (due_a != due_b) return due_a;
    if (due_a && a.job.priority != b.job.priority) return a.job.priority > b.job.priority;
    if (a.job.start_by != b.job.start_by) return a.job.start_by < b.job.start_by;
    if (a.job.priority != b.job.priority) return a.job.priority > b.job.priority;
    return a.seq < b.seq;
  };
  std::size_t best = 0;
  for (std::size_t i = 1; i < queue_.size(); ++i) {
    if (better(queue_[i], queue_[best])) best = i;
  }
  // A task waits for the running jobs to finish, and nothing overtakes it meanwhile.
  if (queue_[best].job.task && !running_.empty()) return kNone;
  return best;
}

void Scheduler::run() {
  for (;;) {
    SynthesisJob job;
    std::uint64_t seq = 0;
    Arrival arrival;
    bool traced = false;
    {
      std::unique_lock lock(mutex_);
      std::size_t index = kNone;
      wake_.wait(lock, [&] {
        index = pick(Clock::now());
        return index != kNone || (stopping_ && queue_.empty());
      });
      if (index == kNone) return;  // stopping and nothing left
      job = std::move(queue_[index].job);
      seq = queue_[index].seq;
      arrival = queue_[index].arrival;
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(index));
      if (job.task) task_running_ = true;
      if (tracer_ != nullptr && !job.task && !job.cancelled->load() &&
          traced_started_ < config_.trace_requests) {
        traced = true;
        ++traced_started_;
        traced_running_.fetch_add(1);
      }
      running_.push_back(Running{job.cancelled, seq, 0});
      for (Running& r : running_) r.max_level = std::max(r.max_level, running_.size());
    }
    const Clock::time_point started = Clock::now();
    SynthesisResult result;
    std::exception_ptr error;
    if (job.cancelled->load()) {
      result.cancelled = true;
      if (!job.task) {
        metrics_.record_request(RequestRecord{.id = seq,
                                              .arrival_unix_s = unix_seconds(arrival.wall),
                                              .queue_wait_ms = ms_between(arrival.at, started),
                                              .total_ms = ms_between(arrival.at, started),
                                              .running_at_arrival = arrival.running,
                                              .queued_at_arrival = arrival.queued,
                                              .text_chars = job.request.text.size(),
                                              .streamed = static_cast<bool>(job.on_chunk),
                                              .outcome = RequestOutcome::Cancelled});
      }
    } else if (job.task) {
      try {
        job.task();
      } catch (...) {
        error = std::current_exception();
      }
    } else {
      result = synthesize(job, seq, arrival, traced, error);
    }
    if (traced) traced_running_.fetch_sub(1);
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    const bool finished = !error && !result.cancelled && !job.task;
    // A cache replay took no synthesis time: it says nothing of how fast the engine runs.
    const bool measured = finished && result.stats.audio_seconds > 0.0 && !result.stats.cached;
    const double audio_seconds = result.stats.audio_seconds;
    try {
      if (job.on_done) job.on_done(std::move(result), error);
    } catch (...) {  // a transport that cannot even post its reply must not kill the worker
    }
    {
      const std::lock_guard lock(mutex_);
      const auto it = std::find_if(running_.begin(), running_.end(),
                                   [seq](const Running& r) { return r.seq == seq; });
      const std::size_t level = it->max_level;
      running_.erase(it);
      if (job.task) task_running_ = false;
      if (measured) record(level, seconds / audio_seconds, seconds);
      --active_;
      metrics_.queue_depth.store(static_cast<std::int64_t>(active_));
    }
    wake_.notify_all();  // a slot freed (or a task ended)
    drained_.notify_all();
  }
}

SynthesisResult Scheduler::synthesize(const SynthesisJob& job, std::uint64_t seq,
                                      const Arrival& arrival, bool traced,
                                      std::exception_ptr& error) {
  const Clock::time_point started = Clock::now();
  metrics_.queue_wait.observe(ms_between(arrival.at, started) / 1000.0);
  // Chunk bookkeeping on this thread only (the engine calls back on the caller's thread).
  const bool streamed = static_cast<bool>(job.on_chunk);
  Clock::time_point first_chunk{};
  Clock::time_point last_chunk = started;
  std::int64_t chunks = 0;
  SynthesisResult result;
  try {
    const auto& flag = job.cancelled;
    const ChunkCallback& user = job.on_chunk;
    result = engine_.synthesize(job.request, [&](const AudioChunk& c) {
      if (flag->load()) return false;
      const Clock::time_point now = Clock::now();
      // A non-streamed response gets one chunk per text chunk: no gap a client waits through.
      if (streamed && chunks > 0) metrics_.record_chunk_gap(ms_between(last_chunk, now) / 1000.0);
      if (traced)
        trace_chunk(*tracer_, seq, now, c.index, c.samples.size(), ms_between(last_chunk, now));
      if (chunks++ == 0) first_chunk = now;
      last_chunk = now;
      return user ? user(c) : true;
    });
  } catch (...) {
    error = std::current_exception();
  }
  const Clock::time_point finished = Clock::now();
  if (!error && !result.cancelled) metrics_.record_synthesis(result.stats);
  const RequestRecord record{
      .id = seq,
      .arrival_unix_s = unix_seconds(arrival.wall),
      .queue_wait_ms = ms_between(arrival.at, started),
      .first_chunk_ms = chunks > 0 ? ms_between(arrival.at, first_chunk) : -1.0,
      .chunks = chunks,
      .total_ms = ms_between(arrival.at, finished),
      .audio_seconds = result.stats.audio_seconds,
      .real_time_factor = result.stats.real_time_factor,
      .running_at_arrival = arrival.running,
      .queued_at_arrival = arrival.queued,
      .text_chars = job.request.text.size(),
      .streamed = streamed,
      .outcome = outcome_of(error, result.cancelled)};
  metrics_.record_request(record);
  if (traced) {
    trace_request(*tracer_, RequestSpan{arrival.at, started, finished}, record, result.stats);
  }
  return result;
}

}  // namespace chatterd::serving
