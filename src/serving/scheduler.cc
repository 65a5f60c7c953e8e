#include "serving/scheduler.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

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

}  // namespace

void SchedulerConfig::validate() const {
  CHATTERD_CHECK(max_queue >= 1, InvalidArgument, "scheduler max_queue must be >= 1, got {}",
                 max_queue);
  CHATTERD_CHECK(workers >= 1 && workers <= kMaxWorkers, InvalidArgument,
                 "scheduler workers must be in [1, {}], got {}", kMaxWorkers, workers);
  CHATTERD_CHECK(std::isfinite(realtime_budget) && realtime_budget >= 0.0, InvalidArgument,
                 "realtime_budget must be >= 0 (0: off), got {}", realtime_budget);
}

Scheduler::Scheduler(TtsEngine& engine, SchedulerConfig config, Metrics& metrics)
    : engine_(engine), config_(config), metrics_(metrics) {
  config_.validate();
  rtf_mean_.assign(config_.workers, -1.0);
  workers_.reserve(config_.workers);
  for (std::size_t i = 0; i < config_.workers; ++i) workers_.emplace_back([this] { run(); });
}

Scheduler::~Scheduler() {
  stop();
}

Admission Scheduler::submit(SynthesisJob job) {
  {
    const std::lock_guard lock(mutex_);
    if (closed_) return Admission::ShuttingDown;
    if (active_ >= config_.max_queue) return Admission::QueueFull;
    ++active_;
    metrics_.queue_depth.store(static_cast<std::int64_t>(active_));
    if (job.start_by == Clock::time_point{}) job.start_by = Clock::now();
    queue_.push_back(Queued{std::move(job), next_seq_++});
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
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(index));
      if (job.task) task_running_ = true;
      running_.push_back(Running{job.cancelled, seq, 0});
      for (Running& r : running_) r.max_level = std::max(r.max_level, running_.size());
    }
    const Clock::time_point started = Clock::now();
    SynthesisResult result;
    std::exception_ptr error;
    if (job.cancelled->load()) {
      result.cancelled = true;
    } else if (job.task) {
      try {
        job.task();
      } catch (...) {
        error = std::current_exception();
      }
    } else {
      try {
        const auto& flag = job.cancelled;
        const ChunkCallback& user = job.on_chunk;
        result = engine_.synthesize(job.request, [&flag, &user](const AudioChunk& c) {
          if (flag->load()) return false;
          return user ? user(c) : true;
        });
      } catch (...) {
        error = std::current_exception();
      }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    const bool finished = !error && !result.cancelled && !job.task;
    if (finished) metrics_.record_synthesis(result.stats);
    const bool measured = finished && result.stats.audio_seconds > 0.0;
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

}  // namespace chatterd::serving
