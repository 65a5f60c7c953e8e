#include "pipeline/t3_batch_loop.h"

#include <chrono>
#include <utility>

#include "core/check.h"

namespace chatterd {

void T3BatchLoopConfig::validate() const {
  CHATTERD_CHECK(max_batch >= 1 && max_batch <= 256, InvalidArgument,
                 "T3 batch loop: max_batch must be in [1, 256], got {}", max_batch);
  CHATTERD_CHECK(max_queue >= 1 && max_queue <= 65536, InvalidArgument,
                 "T3 batch loop: max_queue must be in [1, 65536], got {}", max_queue);
}

T3BatchLoop::T3BatchLoop(const T3Model& model, ExecContext ctx, T3BatchLoopConfig config)
    : T3BatchLoop(
          [&model, max_batch = config.max_batch]() -> std::unique_ptr<T3StreamBatcher> {
            return std::make_unique<T3BatchGenerator>(model, max_batch);
          },
          ctx, config) {}

T3BatchLoop::T3BatchLoop(BatcherFactory make_batcher, ExecContext ctx, T3BatchLoopConfig config)
    : make_batcher_(std::move(make_batcher)), ctx_(ctx), config_(config) {
  config_.validate();
  generator_ = checked_batcher();
  thread_ = std::thread([this] { run(); });
}

std::unique_ptr<T3StreamBatcher> T3BatchLoop::checked_batcher() const {
  std::unique_ptr<T3StreamBatcher> b = make_batcher_();
  CHATTERD_CHECK(b != nullptr && b->max_batch() >= config_.max_batch, InvalidArgument,
                 "T3 batch loop: the batcher takes fewer than max_batch {} streams",
                 config_.max_batch);
  return b;
}

T3BatchLoop::~T3BatchLoop() {
  stop();
}

void T3BatchLoop::stop() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    stop_flag_.store(true);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

T3BatchLoopStats T3BatchLoop::stats() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

std::size_t T3BatchLoop::queued() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

void T3BatchLoop::finish(Channel& ch, T3GenerateResult result, std::exception_ptr error) {
  {
    const std::lock_guard<std::mutex> lock(ch.mutex);
    ch.result = std::move(result);
    ch.error = std::move(error);
    ch.done = true;
  }
  ch.cv.notify_all();
}

std::optional<T3BatchLoop::SoloTicket> T3BatchLoop::try_solo() {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (!config_.solo || stopping_ || in_loop_ > 0 || solo_ > 0) return std::nullopt;
  ++solo_;
  ++stats_.solo;
  return std::optional<SoloTicket>(std::in_place, *this);
}

T3BatchLoop::SoloTicket::~SoloTicket() {
  if (loop_ == nullptr) return;
  const std::lock_guard<std::mutex> lock(loop_->mutex_);
  --loop_->solo_;
}

T3GenerateResult T3BatchLoop::generate(const T3Cond& cond, std::span<const std::int64_t> text_ids,
                                       const T3GenerateOptions& options,
                                       const SpeechTokenCallback& on_token) {
  auto channel = std::make_shared<Channel>();
  // Counts this caller as in the loop until it returns (solo tickets are refused meanwhile).
  struct InLoop {
    T3BatchLoop& loop;
    ~InLoop() {
      const std::lock_guard<std::mutex> lock(loop.mutex_);
      --loop.in_loop_;
    }
  };
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    ++in_loop_;
  }
  const InLoop in_loop{*this};
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (broken_) {
      ++stats_.refused;
      std::rethrow_exception(broken_);
    }
    if (stopping_) {
      ++stats_.refused;
      CHATTERD_THROW(Unavailable, "T3 batch loop: stopping, request refused");
    }
    if (queue_.size() >= config_.max_queue) {
      ++stats_.refused;
      CHATTERD_THROW(Unavailable, "T3 batch loop: {} requests already waiting (max_queue)",
                     queue_.size());
    }
    queue_.push_back(Pending{cond, std::vector<std::int64_t>(text_ids.begin(), text_ids.end()),
                             options, channel});
  }
  wake_.notify_all();

  // Relay tokens to the caller's callback on this thread.
  std::size_t delivered = 0;
  std::unique_lock<std::mutex> lock(channel->mutex);
  for (;;) {
    channel->cv.wait(lock, [&] { return channel->done || !channel->tokens.empty(); });
    while (!channel->tokens.empty()) {
      const std::int64_t token = channel->tokens.front();
      channel->tokens.pop_front();
      if (channel->cancel.load()) continue;  // already cancelled: drain without calling back
      ++delivered;
      lock.unlock();
      bool keep = true;
      try {
        keep = !on_token || on_token(token);
      } catch (...) {  // the caller is gone: the loop drops the stream at its next step
        channel->cancel.store(true);
        throw;
      }
      lock.lock();
      if (!keep) channel->cancel.store(true);
    }
    if (channel->done && channel->tokens.empty()) break;
  }
  if (channel->error) std::rethrow_exception(channel->error);
  T3GenerateResult result = std::move(channel->result);
  if (channel->cancel.load()) {
    // The loop may have produced tokens after the callback said stop (it learns at its next
    // step): the result ends at the last token the caller accepted, as a solo run's does.
    result.cancelled = true;
    if (result.tokens.size() > delivered) result.tokens.resize(delivered);
  }
  return result;
}

void T3BatchLoop::admit(Pending job) {
  std::shared_ptr<Channel> channel = job.channel;
  auto relay = [channel, this](std::int64_t token) {
    if (channel->cancel.load() || stop_flag_.load()) return false;
    {
      const std::lock_guard<std::mutex> lock(channel->mutex);
      channel->tokens.push_back(token);
    }
    channel->cv.notify_all();
    return true;
  };
  try {
    const auto id = generator_->add(ctx_, job.cond, job.text_ids, job.options, relay);
    running_.emplace(id, std::move(channel));
    const std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.admitted;
  } catch (...) {
    finish(*channel, {}, std::current_exception());
  }
}

void T3BatchLoop::run() {
  for (;;) {
    Pending next;
    bool have_next = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] {
        return stopping_ || !queue_.empty() || (generator_ && generator_->running() > 0);
      });
      if (stopping_) {
        // Queued requests never started: end them now (with the batcher's failure, if that is
        // why). Running ones are cancelled below by their relay (it sees stopping_) next step.
        while (!queue_.empty()) {
          T3GenerateResult r;
          r.cancelled = broken_ == nullptr;
          finish(*queue_.front().channel, std::move(r), broken_);
          queue_.pop_front();
        }
        if (!generator_ || generator_->running() == 0) return;
      } else if (!queue_.empty() && generator_->running() < config_.max_batch) {
        next = std::move(queue_.front());
        queue_.pop_front();
        have_next = true;
      }
    }
    if (have_next) admit(std::move(next));  // one prefill per step while others run

    try {
      const std::int64_t running = generator_->running();
      EngineObserver* const observer = observer_.load();
      const auto t_step = observer != nullptr ? std::chrono::steady_clock::now()
                                              : std::chrono::steady_clock::time_point{};
      std::vector<T3StreamBatcher::Finished> finished = generator_->step(ctx_);
      if (observer != nullptr && running > 0) {
        observer->on_batch_step(running, t_step, std::chrono::steady_clock::now());
      }
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        if (running > 0) {
          stats_.steps = generator_->steps();
          stats_.rows = generator_->rows();
        }
        stats_.max_running = std::max(stats_.max_running, running);
        stats_.completed += static_cast<std::int64_t>(finished.size());
      }
      for (auto& f : finished) {
        const auto it = running_.find(f.id);
        if (it == running_.end()) continue;
        finish(*it->second, std::move(f.result), nullptr);
        running_.erase(it);
      }
    } catch (...) {
      // A failing step (a bug, or memory): every running stream gets the error; the generator
      // is rebuilt so the loop can go on serving.
      const std::exception_ptr error = std::current_exception();
      for (auto& [id, channel] : running_) finish(*channel, {}, error);
      running_.clear();
      generator_.reset();  // its memory (a device's KV slots) goes before the new one takes it
      try {
        if (!stop_flag_.load()) generator_ = checked_batcher();  // none needed to stop
      } catch (...) {
        // No batcher (the device is gone): the loop ends; queued requests get this error and
        // later ones are refused.
        const std::lock_guard<std::mutex> lock(mutex_);
        broken_ = std::current_exception();
        stopping_ = true;
        stop_flag_.store(true);
      }
    }
  }
}

}  // namespace chatterd
