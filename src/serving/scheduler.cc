#include "serving/scheduler.h"

namespace chatterd::serving {

Scheduler::Scheduler(TtsEngine& engine, std::size_t max_queue, Metrics& metrics)
    : engine_(engine), max_queue_(max_queue), metrics_(metrics), worker_([this] { run(); }) {}

Scheduler::~Scheduler() {
  stop();
}

Admission Scheduler::submit(SynthesisJob job) {
  {
    const std::lock_guard lock(mutex_);
    if (closed_) return Admission::ShuttingDown;
    if (active_ >= max_queue_) return Admission::QueueFull;
    ++active_;
    metrics_.queue_depth.store(static_cast<std::int64_t>(active_));
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return Admission::Accepted;
}

void Scheduler::close() {
  const std::lock_guard lock(mutex_);
  closed_ = true;
}

bool Scheduler::drain(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return drained_.wait_until(lock, deadline, [this] { return active_ == 0; });
}

void Scheduler::stop() {
  {
    const std::lock_guard lock(mutex_);
    closed_ = true;
    stopping_ = true;
    for (SynthesisJob& j : queue_) j.cancelled->store(true);
    if (running_cancel_) running_cancel_->store(true);
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

std::size_t Scheduler::depth() const {
  const std::lock_guard lock(mutex_);
  return active_;
}

void Scheduler::run() {
  for (;;) {
    SynthesisJob job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and nothing left
      job = std::move(queue_.front());
      queue_.pop_front();
      running_cancel_ = job.cancelled;
    }
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
    if (!error && !result.cancelled && !job.task) metrics_.record_synthesis(result.stats);
    try {
      if (job.on_done) job.on_done(std::move(result), error);
    } catch (...) {  // a transport that cannot even post its reply must not kill the worker
    }
    {
      const std::lock_guard lock(mutex_);
      running_cancel_.reset();
      --active_;
      metrics_.queue_depth.store(static_cast<std::int64_t>(active_));
    }
    drained_.notify_all();
  }
}

}  // namespace chatterd::serving
