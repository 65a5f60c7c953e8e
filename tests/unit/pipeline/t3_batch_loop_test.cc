// T3BatchLoop: concurrent callers get exactly their solo tokens; cancellation, a full queue,
// bad input and stop() behave as documented.
#include "pipeline/t3_batch_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "chatterd/core/error.h"
#include "core/thread_pool.h"
#include "models/t3/t3_cond.h"

namespace chatterd {
namespace {

const std::filesystem::path kTurbo = std::filesystem::path(CHATTERD_FIXTURES_DIR) / "turbo-tiny";

struct Model {
  std::shared_ptr<const T3Model> t3 = T3Model::load(kTurbo);
  T3Cond cond = load_t3_cond(kTurbo / "conds.pt", t3->config());
};

const Model& model() {
  static const Model m;
  return m;
}

T3GenerateOptions options(std::uint64_t seed, std::int64_t max_gen_len = 200) {
  T3GenerateOptions o;
  o.sampling.seed = seed;
  o.sampling.temperature = 0.9f;
  o.max_gen_len = max_gen_len;
  return o;
}

std::vector<std::int64_t> text_for(int i) {
  std::vector<std::int64_t> t{15496, 612};
  for (int j = 0; j < i; ++j) t.push_back(100 + j);
  t.push_back(13);
  return t;
}

T3GenerateResult solo(const std::vector<std::int64_t>& text, const T3GenerateOptions& o,
                      std::vector<std::int64_t>* seen, std::int64_t cancel_after = -1) {
  T3State state;
  return generate_speech_tokens(
      ExecContext{}, *model().t3, model().cond, text, o, state, [&](std::int64_t t) {
        seen->push_back(t);
        return cancel_after < 0 || static_cast<std::int64_t>(seen->size()) < cancel_after;
      });
}

TEST(T3BatchLoop, ConcurrentCallersGetTheirSoloTokens) {
  ThreadPool pool(2);
  T3BatchLoop loop(*model().t3, ExecContext{&pool}, T3BatchLoopConfig{.max_batch = 4});
  constexpr int kCallers = 6;  // more than max_batch: some wait in the queue
  std::vector<T3GenerateResult> got(kCallers), want(kCallers);
  std::vector<std::vector<std::int64_t>> got_seen(kCallers), want_seen(kCallers);
  for (int i = 0; i < kCallers; ++i) {
    want[i] = solo(text_for(i), options(100 + i), &want_seen[i], i == 2 ? 5 : -1);
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      const std::int64_t cancel_after = i == 2 ? 5 : -1;
      got[i] = loop.generate(model().cond, text_for(i), options(100 + i), [&](std::int64_t t) {
        got_seen[i].push_back(t);
        return cancel_after < 0 || static_cast<std::int64_t>(got_seen[i].size()) < cancel_after;
      });
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kCallers; ++i) {
    SCOPED_TRACE("caller " + std::to_string(i));
    EXPECT_EQ(got[i].tokens, want[i].tokens);
    EXPECT_EQ(got_seen[i], want_seen[i]);
    EXPECT_EQ(got[i].cancelled, want[i].cancelled);
    EXPECT_EQ(got[i].hit_eos, want[i].hit_eos);
  }
  EXPECT_TRUE(got[2].cancelled);
  const T3BatchLoopStats s = loop.stats();
  EXPECT_EQ(s.admitted, kCallers);
  EXPECT_EQ(s.completed, kCallers);
  EXPECT_LE(s.max_running, 4);
  EXPECT_GT(s.rows, s.steps);  // steps carried several streams
}

TEST(T3BatchLoop, FullQueueIsRefusedAndStopEndsEveryone) {
  T3BatchLoop loop(*model().t3, ExecContext{}, T3BatchLoopConfig{.max_batch = 1, .max_queue = 1});
  std::mutex m;
  std::condition_variable cv;
  bool first_token = false, release = false;
  T3GenerateResult a, b;
  std::thread ta([&] {
    a = loop.generate(model().cond, text_for(0), options(1, 800), [&](std::int64_t) {
      std::unique_lock<std::mutex> lock(m);
      first_token = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
      return true;
    });
  });
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return first_token; });
  }
  std::thread tb([&] { b = loop.generate(model().cond, text_for(1), options(2)); });
  for (int i = 0; i < 5000 && loop.queued() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  ASSERT_EQ(loop.queued(), 1u);
  EXPECT_THROW(loop.generate(model().cond, text_for(2), options(3)), Unavailable);
  EXPECT_EQ(loop.stats().refused, 1);

  std::thread stopper([&] { loop.stop(); });
  {
    const std::lock_guard<std::mutex> lock(m);
    release = true;
  }
  cv.notify_all();
  stopper.join();
  ta.join();
  tb.join();
  EXPECT_TRUE(a.cancelled);
  EXPECT_LT(a.tokens.size(), 800u);
  EXPECT_TRUE(b.cancelled);  // never started
  EXPECT_TRUE(b.tokens.empty());
  EXPECT_THROW(loop.generate(model().cond, text_for(0), options(4)), Unavailable);
}

TEST(T3BatchLoop, BadInputReachesTheCallerAndTheLoopGoesOn) {
  T3BatchLoop loop(*model().t3, ExecContext{}, T3BatchLoopConfig{});
  EXPECT_THROW(loop.generate(model().cond, {}, options(1)), InvalidArgument);
  T3GenerateOptions bad = options(1);
  bad.sampling.temperature = -1.0f;
  EXPECT_THROW(loop.generate(model().cond, text_for(0), bad), InvalidArgument);
  std::vector<std::int64_t> seen;
  const T3GenerateResult want = solo(text_for(0), options(9), &seen);
  EXPECT_EQ(loop.generate(model().cond, text_for(0), options(9)).tokens, want.tokens);
}

// The solo fast path: one ticket at a time, only while nobody is in the loop.
TEST(T3BatchLoop, SoloTicketOnlyWhileTheLoopIsIdle) {
  T3BatchLoop loop(*model().t3, ExecContext{}, T3BatchLoopConfig{.max_batch = 2});
  {
    auto first = loop.try_solo();
    ASSERT_TRUE(first.has_value());
    EXPECT_FALSE(loop.try_solo().has_value());  // one solo stream at a time
  }
  EXPECT_TRUE(loop.try_solo().has_value());  // released
  std::mutex m;
  std::condition_variable cv;
  bool in_loop = false, release = false;
  std::thread t([&] {
    loop.generate(model().cond, text_for(0), options(1), [&](std::int64_t) {
      std::unique_lock<std::mutex> lock(m);
      in_loop = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
      return false;
    });
  });
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return in_loop; });
  }
  EXPECT_FALSE(loop.try_solo().has_value());  // a stream is in the loop: join it instead
  {
    const std::lock_guard<std::mutex> lock(m);
    release = true;
  }
  cv.notify_all();
  t.join();
  EXPECT_TRUE(loop.try_solo().has_value());
  EXPECT_EQ(loop.stats().solo, 3);
}

TEST(T3BatchLoop, ConfigIsValidated) {
  EXPECT_THROW((T3BatchLoopConfig{.max_batch = 0}.validate()), InvalidArgument);
  EXPECT_THROW((T3BatchLoopConfig{.max_queue = 0}.validate()), InvalidArgument);
  EXPECT_NO_THROW(T3BatchLoopConfig{}.validate());
}

}  // namespace
}  // namespace chatterd
