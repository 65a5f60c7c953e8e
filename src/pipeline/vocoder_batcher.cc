#include "pipeline/vocoder_batcher.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <utility>

#include "core/check.h"
#include "core/stopwatch.h"
#include "pipeline/sha256.h"

namespace chatterd {
namespace {

template <typename T>
void hash_value(Sha256& h, const T& v) {
  h.update(std::as_bytes(std::span<const T>(&v, 1)));
}

// Shape, dtype and bytes: the same values under another shape are another voice.
void hash_tensor(Sha256& h, const Tensor& t) {
  hash_value(h, static_cast<std::int64_t>(t.rank()));
  for (int d = 0; d < t.rank(); ++d) hash_value(h, t.dim(d));
  hash_value(h, static_cast<std::int32_t>(t.dtype()));
  if (t.raw_data() != nullptr) {
    h.update(std::span<const std::byte>(static_cast<const std::byte*>(t.raw_data()), t.nbytes()));
  }
}

}  // namespace

void VocoderBatcherConfig::validate() const {
  CHATTERD_CHECK(max_batch_size >= 1, InvalidArgument,
                 "vocoder batcher: max_batch_size must be >= 1, got {}", max_batch_size);
  CHATTERD_CHECK(std::isfinite(max_wait_ms) && max_wait_ms >= 0.0, InvalidArgument,
                 "vocoder batcher: max_wait_ms must be >= 0, got {}", max_wait_ms);
  CHATTERD_CHECK(early_fire_ratio > 0.0 && early_fire_ratio <= 1.0, InvalidArgument,
                 "vocoder batcher: early_fire_ratio must be in (0, 1], got {}", early_fire_ratio);
  CHATTERD_CHECK(std::isfinite(max_padding_ratio) && max_padding_ratio >= 0.0, InvalidArgument,
                 "vocoder batcher: max_padding_ratio must be >= 0, got {}", max_padding_ratio);
}

std::int64_t VocoderBatcherStats::fired() const {
  std::int64_t n = 0;
  for (const std::int64_t b : by_trigger) n += b;
  return n;
}

VoiceKey voice_key(const S3GenPrompt& prompt) {
  Sha256 h;
  for (const Tensor* t : {&prompt.tokens, &prompt.mel, &prompt.embedding}) {
    hash_tensor(h, *t);
  }
  const auto digest = h.digest();
  VoiceKey key = 0;
  std::memcpy(&key, digest.data(), sizeof(key));
  return key;
}

VocoderBatcher::VocoderBatcher(const S3GenFlow& flow, ExecContext ctx, VocoderBatcherConfig config)
    : VocoderBatcher(
          [&flow, ctx](std::span<FlowSolveJob* const> jobs) {
            std::vector<const FlowEncoding*> encs;
            std::vector<const Tensor*> zs;
            for (FlowSolveJob* j : jobs) {
              encs.push_back(j->encoding);
              zs.push_back(j->noise);
            }
            std::vector<Tensor> xs = flow.solve_batch(ctx, encs, zs, flow.config().n_cfm_timesteps);
            for (std::size_t i = 0; i < jobs.size(); ++i) jobs[i]->result = std::move(xs[i]);
          },
          config) {}

VocoderBatcher::VocoderBatcher(Runner runner, VocoderBatcherConfig config)
    : runner_(std::move(runner)), config_(config) {
  config_.validate();
  thread_ = std::thread([this] { run(); });
}

VocoderBatcher::~VocoderBatcher() {
  stop();
}

void VocoderBatcher::stop() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void VocoderBatcher::set_observer(EngineObserver* observer) {
  const std::lock_guard<std::mutex> lock(mutex_);
  observer_ = observer;
}

VocoderBatcherStats VocoderBatcher::stats() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  VocoderBatcherStats s = stats_;
  s.active_streams = active_;
  return s;
}

std::unique_ptr<VocoderBatcher::Stream> VocoderBatcher::join(VoiceKey voice) {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    CHATTERD_CHECK(!stopping_, Unavailable, "vocoder batcher: stopping");
    ++active_;
  }
  // An arrival changes "every active stream waits": the owner re-evaluates.
  wake_.notify_all();
  return std::unique_ptr<Stream>(new Stream(*this, voice));
}

void VocoderBatcher::leave() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    --active_;
  }
  wake_.notify_all();
}

VocoderBatcher::Stream::~Stream() {
  owner_.leave();
}

Tensor VocoderBatcher::Stream::solve(const ExecContext& /*ctx*/, const FlowEncoding& encoding,
                                     const Tensor& z) {
  FlowSolveJob job;
  job.encoding = &encoding;
  job.noise = &z;
  job.voice = voice_;
  Pending pending;
  pending.job = &job;
  pending.arrival = Clock::now();
  VocoderBatcher& b = owner_;
  {
    std::unique_lock<std::mutex> lock(b.mutex_);
    CHATTERD_CHECK(!b.stopping_, Unavailable, "vocoder batcher: stopping");
    if (b.active_ <= 1 && b.queue_.empty()) {
      // Fast path: alone, so waiting could only add latency.
      lock.unlock();
      b.execute({&pending}, VocoderBatchTrigger::FastPath, 1);
    } else {
      b.queue_.push_back(&pending);
      b.stats_.max_queue_depth =
          std::max(b.stats_.max_queue_depth, static_cast<std::int64_t>(b.queue_.size()));
      b.wake_.notify_all();
      b.finished_.wait(lock, [&] { return pending.done; });
    }
  }
  if (pending.error) std::rethrow_exception(pending.error);
  return std::move(job.result);
}

std::vector<std::vector<VocoderBatcher::Pending*>> VocoderBatcher::sub_batches(
    std::vector<Pending*> batch) const {
  std::stable_sort(batch.begin(), batch.end(), [&](const Pending* a, const Pending* b) {
    if (!config_.cross_voice && a->job->voice != b->job->voice) {
      return a->job->voice < b->job->voice;
    }
    return a->job->frames() < b->job->frames();
  });
  std::vector<std::vector<Pending*>> out;
  std::int64_t frames = 0;
  for (Pending* p : batch) {
    const std::int64_t t = p->job->frames();
    bool fits = !out.empty() &&
                static_cast<std::int64_t>(out.back().size()) < config_.max_batch_size &&
                (config_.cross_voice || out.back().front()->job->voice == p->job->voice);
    if (fits) {
      // Sorted ascending: the new window is the longest, everyone pads to it.
      const auto n = static_cast<std::int64_t>(out.back().size()) + 1;
      const std::int64_t padding = n * t - (frames + t);
      fits = static_cast<double>(padding) <=
             config_.max_padding_ratio * static_cast<double>(frames + t);
    }
    if (!fits) {
      out.emplace_back();
      frames = 0;
    }
    out.back().push_back(p);
    frames += t;
  }
  return out;
}

void VocoderBatcher::execute(std::vector<Pending*> batch, VocoderBatchTrigger trigger,
                             std::int64_t queue_depth) {
  const auto start = Clock::now();
  std::vector<double> waits;
  waits.reserve(batch.size());
  for (const Pending* p : batch) waits.push_back(ms_between(p->arrival, start));
  std::set<VoiceKey> voices;
  for (const Pending* p : batch) voices.insert(p->job->voice);

  const auto groups = sub_batches(batch);
  std::int64_t frames = 0;
  std::int64_t padded = 0;
  std::int64_t mixed = 0;
  std::int64_t largest = 0;
  for (const auto& group : groups) {
    std::vector<FlowSolveJob*> jobs;
    std::int64_t longest = 0;
    std::set<VoiceKey> group_voices;
    for (Pending* p : group) {
      jobs.push_back(p->job);
      longest = std::max(longest, p->job->frames());
      frames += p->job->frames();
      group_voices.insert(p->job->voice);
    }
    padded += longest * static_cast<std::int64_t>(group.size());
    mixed += group_voices.size() > 1 ? 1 : 0;
    largest = std::max(largest, static_cast<std::int64_t>(group.size()));
    std::exception_ptr error;
    try {
      runner_(jobs);
    } catch (...) {
      error = std::current_exception();
    }
    for (Pending* p : group) p->error = error;
  }
  const auto end = Clock::now();

  // Reported before the windows are released, so a solve that returned has been reported.
  EngineObserver* observer = nullptr;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    observer = observer_;
  }
  if (observer != nullptr) {
    VocoderBatchEvent e;
    e.trigger = trigger;
    e.windows = static_cast<std::int64_t>(batch.size());
    e.sub_batches = static_cast<std::int64_t>(groups.size());
    e.queue_depth = queue_depth;
    e.voices = static_cast<std::int64_t>(voices.size());
    e.wait_ms = waits;
    e.start = start;
    e.end = end;
    observer->on_vocoder_batch(e);
  }
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    VocoderBatcherStats& s = stats_;
    s.windows += static_cast<std::int64_t>(batch.size());
    s.sub_batches += static_cast<std::int64_t>(groups.size());
    ++s.by_trigger[static_cast<std::size_t>(trigger)];
    s.max_batch = std::max(s.max_batch, largest);
    s.frames += frames;
    s.padded_frames += padded - frames;
    s.mixed_voice_batches += mixed;
    for (const double w : waits) s.wait_ms += w;
    for (Pending* p : batch) p->done = true;
  }
  finished_.notify_all();
}

void VocoderBatcher::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  const auto max_wait = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(config_.max_wait_ms));
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    const auto waiting = static_cast<std::int64_t>(queue_.size());
    const std::int64_t expected =
        std::min(config_.max_batch_size, std::max<std::int64_t>(active_, 1));
    std::optional<VocoderBatchTrigger> trigger;
    if (waiting >= config_.max_batch_size || waiting >= active_) {
      trigger = VocoderBatchTrigger::Full;
    } else if (static_cast<double>(waiting) >=
               config_.early_fire_ratio * static_cast<double>(expected)) {
      trigger = VocoderBatchTrigger::Early;
    } else if (Clock::now() - queue_.front()->arrival >= max_wait) {
      trigger = VocoderBatchTrigger::Timeout;
    }
    if (!trigger) {
      // Wait for an arrival, a departure or the oldest window's deadline.
      wake_.wait_until(lock, queue_.front()->arrival + max_wait);
      continue;
    }
    // Oldest first: a window never waits behind more than one batch of later arrivals.
    const std::int64_t take = std::min(waiting, config_.max_batch_size);
    std::vector<Pending*> batch(queue_.begin(), queue_.begin() + take);
    queue_.erase(queue_.begin(), queue_.begin() + take);
    lock.unlock();
    execute(std::move(batch), *trigger, waiting);
    lock.lock();
  }
  // Stopping: nobody else will run the waiting windows.
  for (Pending* p : queue_) {
    p->error = std::make_exception_ptr(Unavailable("vocoder batcher: stopped"));
    p->done = true;
  }
  queue_.clear();
  lock.unlock();
  finished_.notify_all();
}

}  // namespace chatterd
