// The Scheduler on its own: order (due first, priority, start_by), several workers, exclusive
// tasks, and the real-time admission budget, over a scripted engine.

#include "serving/scheduler.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chatterd/core/error.h"
#include "serving/test_server.h"
#include "unit/weights/expect_error.h"

namespace chatterd::serving {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Each synthesis: one second of audio; records its text in start order and the most syntheses
// seen running at once. `hold` keeps every synthesis waiting until release(). `cost_ms`: wall
// time per second of audio as a function of how many run at once (a machine whose throughput
// per stream falls with concurrency).
class ScriptedEngine : public TtsEngine {
 public:
  ScriptedEngine() { info_ = {.name = "scripted", .sample_rate_hz = 24000, .voices = {}}; }
  const EngineInfo& info() const override { return info_; }
  int max_concurrency() const override { return 8; }

  SynthesisResult synthesize(const SynthesisRequest& request,
                             const ChunkCallback& on_chunk) override {
    const int now_running = running_.fetch_add(1) + 1;
    {
      std::unique_lock lock(mutex_);
      started_.push_back(request.text);
      max_running_ = std::max(max_running_, now_running);
      if (now_running > max_running_after_mark_ && marked_) max_running_after_mark_ = now_running;
      cv_.notify_all();
      cv_.wait(lock, [this] { return !hold_; });
    }
    if (cost_ms) {
      for (int slice = 0; slice < 10; ++slice) {
        std::this_thread::sleep_for(
            std::chrono::microseconds(static_cast<std::int64_t>(cost_ms(running_.load()) * 100.0)));
      }
    }
    SynthesisResult result;
    result.samples.assign(24000, 0.1f);
    result.stats.audio_seconds = 1.0;
    if (on_chunk) on_chunk(AudioChunk{.samples = result.samples, .is_last = true});
    running_.fetch_sub(1);
    return result;
  }

  void hold() {
    const std::lock_guard lock(mutex_);
    hold_ = true;
  }
  void release() {
    const std::lock_guard lock(mutex_);
    hold_ = false;
    cv_.notify_all();
  }
  // Waits until `n` syntheses have started.
  bool wait_started(std::size_t n) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, 10s, [&] { return started_.size() >= n; });
  }
  std::vector<std::string> started() {
    const std::lock_guard lock(mutex_);
    return started_;
  }
  int max_running() {
    const std::lock_guard lock(mutex_);
    return max_running_;
  }
  // From now on, max_running_after_mark() tracks the most running at once.
  void mark() {
    const std::lock_guard lock(mutex_);
    marked_ = true;
    max_running_after_mark_ = 0;
  }
  int max_running_after_mark() {
    const std::lock_guard lock(mutex_);
    return max_running_after_mark_;
  }

  std::function<double(int)> cost_ms;  // set before use

 private:
  EngineInfo info_;
  std::atomic<int> running_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool hold_ = false;
  std::vector<std::string> started_;
  int max_running_ = 0;
  bool marked_ = false;
  int max_running_after_mark_ = 0;
};

SynthesisJob job(const std::string& text, int priority = 0, Clock::time_point start_by = {}) {
  SynthesisJob j;
  j.request.text = text;
  j.priority = priority;
  j.start_by = start_by;
  return j;
}

bool drained(Scheduler& s) {
  return s.drain(Clock::now() + 20s);
}

// A scheduler over a scripted engine, declared in the order they must be built and torn down.
struct Rig {
  explicit Rig(SchedulerConfig config) : s(engine, config, metrics) {}
  // Holds the engine and starts `text`, which then blocks one worker until release().
  void start_held(const std::string& text) {
    engine.hold();
    ASSERT_EQ(s.submit(job(text)), Admission::Accepted);
    ASSERT_TRUE(engine.wait_started(1));
  }
  ScriptedEngine engine;
  Metrics metrics;
  Scheduler s;
};

TEST(Scheduler, DueJobsFirstByPriorityThenJobsWithABufferByDeadline) {
  Rig rig(SchedulerConfig{.max_queue = 8, .workers = 1});
  ASSERT_NO_FATAL_FAILURE(rig.start_held("blocker"));
  ScriptedEngine& engine = rig.engine;
  Scheduler& s = rig.s;
  const auto later = Clock::now() + 60s;
  ASSERT_EQ(s.submit(job("buffered-late", 9, later + 5s)), Admission::Accepted);
  ASSERT_EQ(s.submit(job("buffered-soon", 0, later)), Admission::Accepted);
  ASSERT_EQ(s.submit(job("plain-a")), Admission::Accepted);
  ASSERT_EQ(s.submit(job("urgent", 5)), Admission::Accepted);
  ASSERT_EQ(s.submit(job("plain-b")), Admission::Accepted);
  engine.release();
  ASSERT_TRUE(drained(s));
  const std::vector<std::string> want{"blocker", "urgent",        "plain-a",
                                      "plain-b", "buffered-soon", "buffered-late"};
  EXPECT_EQ(engine.started(), want);
}

TEST(Scheduler, SeveralWorkersRunJobsAtOnceAndTheQueueBoundCountsThem) {
  ScriptedEngine engine;
  Metrics metrics;
  Scheduler s(engine, SchedulerConfig{.max_queue = 4, .workers = 3}, metrics);
  engine.hold();
  for (int i = 0; i < 4; ++i) ASSERT_EQ(s.submit(job(fmt::format("j{}", i))), Admission::Accepted);
  ASSERT_TRUE(engine.wait_started(3));
  EXPECT_EQ(s.submit(job("over")), Admission::QueueFull);
  const SchedulerStats st = s.stats();
  EXPECT_EQ(st.running, 3u);
  EXPECT_EQ(st.queued, 1u);
  EXPECT_EQ(st.cap, 3u);
  engine.release();
  ASSERT_TRUE(drained(s));
  EXPECT_EQ(engine.max_running(), 3);
  EXPECT_EQ(engine.started().size(), 4u);
  EXPECT_EQ(s.stats().completed, 4u);
}

TEST(Scheduler, ATaskRunsAloneAndNothingOvertakesIt) {
  Rig rig(SchedulerConfig{.max_queue = 8, .workers = 3});
  ASSERT_NO_FATAL_FAILURE(rig.start_held("first"));
  ScriptedEngine& engine = rig.engine;
  Scheduler& s = rig.s;
  std::atomic<bool> task_ran{false};
  std::atomic<int> started_during_task{-1};
  SynthesisJob task;
  task.task = [&] {
    started_during_task = static_cast<int>(engine.started().size());
    task_ran = true;
  };
  ASSERT_EQ(s.submit(std::move(task)), Admission::Accepted);
  ASSERT_EQ(s.submit(job("after-task")), Admission::Accepted);
  // Two workers are idle, yet neither the task nor the job behind it may start beside "first".
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(task_ran.load());
  EXPECT_EQ(engine.started().size(), 1u);
  engine.release();
  ASSERT_TRUE(drained(s));
  EXPECT_TRUE(task_ran.load());
  EXPECT_EQ(started_during_task.load(), 1);  // "after-task" had not started
  EXPECT_EQ(engine.started(), (std::vector<std::string>{"first", "after-task"}));
}

TEST(Scheduler, RealtimeBudgetCapsConcurrencyAtTheLevelThatStaysRealTime) {
  ScriptedEngine engine;
  // Per second of audio: 30 ms x level^2 -> RTF 0.03, 0.12, 0.27, 0.48 at 1..4 running.
  engine.cost_ms = [](int level) { return 30.0 * level * level; };
  Metrics metrics;
  Scheduler s(engine, SchedulerConfig{.max_queue = 16, .workers = 4, .realtime_budget = 0.2},
              metrics);
  // The first wave runs 4 at once and measures level 4; level 3 next; then the cap settles at 2.
  for (int i = 0; i < 10; ++i) ASSERT_EQ(s.submit(job(fmt::format("w{}", i))), Admission::Accepted);
  ASSERT_TRUE(drained(s));
  SchedulerStats st = s.stats();
  EXPECT_EQ(st.cap, 2u) << "rtf by level: " << st.rtf_by_level[0] << " " << st.rtf_by_level[1]
                        << " " << st.rtf_by_level[2] << " " << st.rtf_by_level[3];
  EXPECT_GT(st.rtf_by_level[3], 0.2);
  EXPECT_GT(st.rtf_by_level[2], 0.2);
  // From now on at most two run at once.
  engine.mark();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(s.submit(job(fmt::format("x{}", i))), Admission::Accepted);
  ASSERT_TRUE(drained(s));
  EXPECT_EQ(engine.max_running_after_mark(), 2);
  st = s.stats();
  EXPECT_EQ(st.cap, 2u);
  EXPECT_GE(s.retry_after_seconds(), 1);
  EXPECT_LE(s.retry_after_seconds(), 60);
}

TEST(Scheduler, WithoutABudgetEveryWorkerIsUsed) {
  ScriptedEngine engine;
  engine.cost_ms = [](int level) { return 30.0 * level * level; };
  Metrics metrics;
  Scheduler s(engine, SchedulerConfig{.max_queue = 16, .workers = 4}, metrics);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(s.submit(job(fmt::format("w{}", i))), Admission::Accepted);
  ASSERT_TRUE(drained(s));
  EXPECT_EQ(s.stats().cap, 4u);
  EXPECT_EQ(engine.max_running(), 4);
}

TEST(Scheduler, StopCancelsQueuedJobsAndReportsThem) {
  ScriptedEngine engine;
  Metrics metrics;
  std::atomic<int> cancelled{0};
  {
    Scheduler s(engine, SchedulerConfig{.max_queue = 8, .workers = 1}, metrics);
    engine.hold();
    ASSERT_EQ(s.submit(job("running")), Admission::Accepted);
    ASSERT_TRUE(engine.wait_started(1));
    for (int i = 0; i < 3; ++i) {
      SynthesisJob j = job("queued");
      j.on_done = [&](SynthesisResult r, const std::exception_ptr&) {
        if (r.cancelled) ++cancelled;
      };
      ASSERT_EQ(s.submit(std::move(j)), Admission::Accepted);
    }
    std::thread releaser([&] {
      std::this_thread::sleep_for(50ms);
      engine.release();
    });
    s.stop();
    releaser.join();
    EXPECT_EQ(s.submit(job("late")), Admission::ShuttingDown);
  }
  EXPECT_EQ(cancelled.load(), 3);
  EXPECT_EQ(engine.started().size(), 1u);
}

TEST(SchedulerConfig, ValidateNamesTheProblem) {
  EXPECT_ERROR_WITH((SchedulerConfig{.max_queue = 0}.validate()), InvalidArgument, {"max_queue"});
  EXPECT_ERROR_WITH((SchedulerConfig{.workers = 0}.validate()), InvalidArgument, {"workers"});
  EXPECT_ERROR_WITH((SchedulerConfig{.workers = 65}.validate()), InvalidArgument, {"workers"});
  EXPECT_ERROR_WITH((SchedulerConfig{.realtime_budget = -1.0}.validate()), InvalidArgument,
                    {"realtime_budget"});
}

}  // namespace
}  // namespace chatterd::serving

namespace chatterd::serving {
namespace {

// Every synthesis job leaves one lifecycle record, booked when it ends: a refusal at once, a job
// cancelled while queued when a worker hands it back, the rest when they finish.
TEST(SchedulerInstrumentation, RecordsEveryJobsLifecycle) {
  Rig rig(SchedulerConfig{.max_queue = 3, .workers = 1});
  ASSERT_NO_FATAL_FAILURE(rig.start_held("blocker"));
  ASSERT_EQ(rig.s.submit(job("queued")), Admission::Accepted);
  SynthesisJob doomed = job("cancel-me");
  const auto flag = doomed.cancelled;
  ASSERT_EQ(rig.s.submit(std::move(doomed)), Admission::Accepted);
  flag->store(true);
  ASSERT_EQ(rig.s.submit(job("over")), Admission::QueueFull);
  rig.engine.release();
  ASSERT_TRUE(drained(rig.s));
  const std::vector<RequestRecord> r = rig.metrics.recent_requests.snapshot();
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].outcome, RequestOutcome::Refused);
  EXPECT_EQ(r[0].text_chars, 4u);
  EXPECT_EQ(r[0].running_at_arrival, 1u);
  EXPECT_EQ(r[0].queued_at_arrival, 2u);
  EXPECT_EQ(r[1].outcome, RequestOutcome::Ok);  // the blocker
  EXPECT_EQ(r[1].id, 0u);
  EXPECT_EQ(r[1].chunks, 1);
  EXPECT_DOUBLE_EQ(r[1].audio_seconds, 1.0);
  EXPECT_EQ(r[2].outcome, RequestOutcome::Cancelled);  // handed back before "queued" runs
  EXPECT_EQ(r[2].id, 2u);
  EXPECT_EQ(r[2].chunks, 0);
  EXPECT_EQ(r[3].outcome, RequestOutcome::Ok);
  EXPECT_EQ(r[3].id, 1u);
  EXPECT_EQ(r[3].running_at_arrival, 1u);
  EXPECT_EQ(r[3].queued_at_arrival, 0u);
  EXPECT_GE(r[3].total_ms, r[3].queue_wait_ms);
  EXPECT_GE(r[3].first_chunk_ms, r[3].queue_wait_ms);
}

TEST(SchedulerInstrumentation, TracesOnlyTheFirstRequests) {
  ScriptedEngine engine;
  Metrics metrics;
  Tracer tracer;
  {
    Scheduler s(engine, SchedulerConfig{.max_queue = 4, .workers = 1, .trace_requests = 1}, metrics,
                &tracer);
    ASSERT_EQ(s.submit(job("a")), Admission::Accepted);
    ASSERT_EQ(s.submit(job("b")), Admission::Accepted);
    ASSERT_TRUE(drained(s));
    EXPECT_FALSE(s.tracing_now());
  }
  int requests = 0;
  int chunks = 0;
  for (const Tracer::Event& e : tracer.events()) {
    requests += e.name == "request" ? 1 : 0;
    chunks += e.name == "chunk" ? 1 : 0;
  }
  EXPECT_EQ(requests, 1);
  EXPECT_EQ(chunks, 1);
}

}  // namespace
}  // namespace chatterd::serving
