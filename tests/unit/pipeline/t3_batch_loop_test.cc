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
#include "core/check.h"
#include "core/thread_pool.h"
#include "fixture_dirs.h"
#include "models/t3/t3_cond.h"

namespace chatterd {
namespace {

struct Model {
  std::shared_ptr<const T3Model> t3 = T3Model::load(test::kTurboTinyDir);
  T3Cond cond = load_t3_cond(test::kTurboTinyDir / "conds.pt", t3->config());
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

// A callback that throws (a response encoder, a transport) ends its stream in the loop as well:
// the loop stops decoding it within a step instead of running it to its token limit.
TEST(T3BatchLoop, ACallbackThatThrowsStopsItsStreamInTheLoop) {
  T3BatchLoop loop(*model().t3, ExecContext{}, T3BatchLoopConfig{.max_batch = 2});
  int calls = 0;
  EXPECT_THROW(loop.generate(model().cond, text_for(0), options(1, 200),
                             [&](std::int64_t) {
                               if (++calls == 3) CHATTERD_THROW(IoError, "client gone");
                               return true;
                             }),
               IoError);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (loop.stats().completed < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(loop.stats().completed, 1);
  EXPECT_LT(loop.stats().rows, 20);
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

// A batcher that emits `tokens_per_stream` copies of its stream id, and whose step() throws
// once `fail_at_step` steps have run; counts the batchers made.
class FakeBatcher final : public T3StreamBatcher {
 public:
  FakeBatcher(std::int64_t max_batch, std::int64_t fail_at_step)
      : max_batch_(max_batch), fail_at_step_(fail_at_step) {}
  StreamId add(const ExecContext&, const T3Cond&, std::span<const std::int64_t>,
               const T3GenerateOptions& options, SpeechTokenCallback on_token) override {
    streams_.push_back({next_id_, options.max_gen_len, std::move(on_token), {}});
    return next_id_++;
  }
  std::vector<Finished> step(const ExecContext&) override {
    if (!streams_.empty() && steps_ == fail_at_step_) throw Internal("fake step failure");
    std::vector<Finished> done;
    if (streams_.empty()) return done;
    ++steps_;
    rows_ += running();
    for (auto it = streams_.begin(); it != streams_.end();) {
      it->result.tokens.push_back(it->id);
      const bool go_on = !it->on_token || it->on_token(it->id);
      if (!go_on || std::ssize(it->result.tokens) >= it->length) {
        done.push_back({it->id, std::move(it->result)});
        it = streams_.erase(it);
      } else {
        ++it;
      }
    }
    return done;
  }
  std::int64_t running() const override { return std::ssize(streams_); }
  std::int64_t max_batch() const override { return max_batch_; }
  std::int64_t steps() const override { return steps_; }
  std::int64_t rows() const override { return rows_; }

 private:
  struct Stream {
    StreamId id;
    std::int64_t length;
    SpeechTokenCallback on_token;
    T3GenerateResult result;
  };
  std::int64_t max_batch_;
  std::int64_t fail_at_step_;
  std::vector<Stream> streams_;
  StreamId next_id_ = 0;
  std::int64_t steps_ = 0;
  std::int64_t rows_ = 0;
};

TEST(T3BatchLoop, AnyBatcherCanDriveTheLoopAndSoloCanBeTurnedOff) {
  T3BatchLoop loop([] { return std::make_unique<FakeBatcher>(4, -1); }, ExecContext{},
                   T3BatchLoopConfig{.max_batch = 4, .solo = false});
  EXPECT_FALSE(loop.try_solo().has_value());  // idle, but solo tickets are off
  std::vector<std::int64_t> got;
  const T3GenerateResult r =
      loop.generate(model().cond, text_for(1), options(1, 3), [&](std::int64_t t) {
        got.push_back(t);
        return true;
      });
  EXPECT_EQ(r.tokens, (std::vector<std::int64_t>{0, 0, 0}));
  EXPECT_EQ(got, r.tokens);
}

TEST(T3BatchLoop, AFailedStepReachesItsStreamsAndAFailedRebuildRefusesLaterRequests) {
  std::atomic<int> made{0};
  T3BatchLoop loop(
      [&made]() -> std::unique_ptr<T3StreamBatcher> {
        if (made.fetch_add(1) > 0) throw Unavailable("the fake device is gone");
        return std::make_unique<FakeBatcher>(2, 1);
      },
      ExecContext{}, T3BatchLoopConfig{.max_batch = 2, .solo = false});
  // The second step fails: the stream gets the step's error; the rebuild fails too.
  EXPECT_THROW(loop.generate(model().cond, text_for(1), options(1, 5)), Internal);
  try {
    loop.generate(model().cond, text_for(1), options(2, 5));
    ADD_FAILURE() << "a request after the failed rebuild was served";
  } catch (const Unavailable& e) {
    EXPECT_NE(std::string(e.what()).find("fake device is gone"), std::string::npos) << e.what();
  }
  EXPECT_EQ(made.load(), 2);
  loop.stop();
}

TEST(T3BatchLoop, ABatcherSmallerThanMaxBatchIsRefused) {
  EXPECT_THROW(T3BatchLoop([] { return std::make_unique<FakeBatcher>(2, -1); }, ExecContext{},
                           T3BatchLoopConfig{.max_batch = 4}),
               InvalidArgument);
}

}  // namespace
}  // namespace chatterd
