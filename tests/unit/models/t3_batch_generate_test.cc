// T3BatchGenerator: streams that join at different steps, with their own seeds and settings,
// produce exactly the tokens (and callbacks) of solo generate_speech_tokens runs.
#include "models/t3/t3_batch_generate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <vector>

#include "chatterd/core/error.h"
#include "core/thread_pool.h"
#include "fixture_dirs.h"
#include "models/t3/t3_cond.h"

namespace chatterd {
namespace {

struct Job {
  std::vector<std::int64_t> text;
  T3GenerateOptions options;
  std::int64_t join_at_step = 0;
  std::int64_t cancel_after = -1;  // callback returns false on this many-th token (1-based)
};

T3GenerateOptions options(std::uint64_t seed, bool greedy, float temperature, std::int64_t max) {
  T3GenerateOptions o;
  o.sampling.seed = seed;
  o.sampling.greedy = greedy;
  o.sampling.temperature = temperature;
  o.max_gen_len = max;
  return o;
}

struct Outcome {
  T3GenerateResult result;
  std::vector<std::int64_t> seen;  // tokens the callback saw
};

TEST(T3BatchGenerator, MatchesSoloRunsForStaggeredStreams) {
  const auto model = T3Model::load(test::kTurboTinyDir);
  const T3Cond cond = load_t3_cond(test::kTurboTinyDir / "conds.pt", model->config());
  ThreadPool pool(2);
  const ExecContext ctx{&pool};
  std::vector<Job> jobs = {
      {{15496, 612, 13}, options(1, false, 0.8f, 30), 0},
      {{40, 716, 994, 257, 1332, 13}, options(2, true, 1.0f, 25), 0},
      {{10248, 13}, options(3, false, 1.2f, 30), 3},
      {{15496, 13}, options(4, false, 0.8f, 40), 5, 7},  // cancels at its 7th token
      {{632, 13}, options(5, false, 0.8f, 0), 6},        // budget 0: one token only
  };
  jobs[1].options.sampling.top_k = 50;

  // Solo runs.
  std::vector<Outcome> solo(jobs.size());
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    T3State state;
    Outcome& o = solo[j];
    const std::int64_t cancel = jobs[j].cancel_after;
    o.result = generate_speech_tokens(
        ctx, *model, cond, jobs[j].text, jobs[j].options, state, [&o, cancel](std::int64_t t) {
          o.seen.push_back(t);
          return cancel < 0 || static_cast<std::int64_t>(o.seen.size()) < cancel;
        });
  }

  // Batched, joining at their steps (max_batch 3: job 4 waits for a free slot).
  T3BatchGenerator gen(*model, 3);
  std::vector<Outcome> batched(jobs.size());
  std::map<T3BatchGenerator::StreamId, std::size_t> job_of;
  std::size_t next = 0;
  std::size_t done = 0;
  std::int64_t max_running = 0;
  for (std::int64_t step = 0; done < jobs.size(); ++step) {
    while (next < jobs.size() && jobs[next].join_at_step <= step && gen.running() < 3) {
      Outcome& o = batched[next];
      const std::int64_t cancel = jobs[next].cancel_after;
      const auto id =
          gen.add(ctx, cond, jobs[next].text, jobs[next].options, [&o, cancel](std::int64_t t) {
            o.seen.push_back(t);
            return cancel < 0 || static_cast<std::int64_t>(o.seen.size()) < cancel;
          });
      job_of[id] = next++;
    }
    max_running = std::max(max_running, gen.running());
    for (auto& f : gen.step(ctx)) {
      batched[job_of.at(f.id)].result = std::move(f.result);
      ++done;
    }
    ASSERT_LT(step, 500) << "generation does not terminate";
  }
  EXPECT_EQ(max_running, 3);
  EXPECT_GT(gen.rows(), gen.steps());  // steps really carried several rows

  for (std::size_t j = 0; j < jobs.size(); ++j) {
    SCOPED_TRACE("job " + std::to_string(j));
    EXPECT_EQ(batched[j].result.tokens, solo[j].result.tokens);
    EXPECT_EQ(batched[j].seen, solo[j].seen);
    EXPECT_EQ(batched[j].result.hit_eos, solo[j].result.hit_eos);
    EXPECT_EQ(batched[j].result.cancelled, solo[j].result.cancelled);
    EXPECT_EQ(batched[j].result.all_filtered, solo[j].result.all_filtered);
    EXPECT_EQ(batched[j].result.prefill_length, solo[j].result.prefill_length);
  }
  EXPECT_TRUE(solo[3].result.cancelled);
  EXPECT_EQ(solo[4].result.tokens.size(), 1u);
  EXPECT_GE(solo[0].result.tokens.size(), 10u);
}

TEST(T3BatchGenerator, RefusesBadUse) {
  const auto model = T3Model::load(test::kTurboTinyDir);
  const T3Cond cond = load_t3_cond(test::kTurboTinyDir / "conds.pt", model->config());
  const ExecContext ctx;
  EXPECT_THROW(T3BatchGenerator(*model, 0), InvalidArgument);
  T3BatchGenerator gen(*model, 1);
  const std::vector<std::int64_t> text{15496};
  EXPECT_THROW(gen.add(ctx, cond, {}, options(1, true, 1.0f, 5), {}), InvalidArgument);
  EXPECT_THROW(gen.add(ctx, cond, text, options(1, true, 1.0f, -1), {}), InvalidArgument);
  gen.add(ctx, cond, text, options(1, true, 1.0f, 5), {});
  EXPECT_THROW(gen.add(ctx, cond, text, options(1, true, 1.0f, 5), {}), InvalidArgument);
  const auto llama = T3Model::load(std::filesystem::path(CHATTERD_FIXTURES_DIR) / "english-tiny");
  EXPECT_THROW(T3BatchGenerator(*llama, 2), InvalidArgument);
}

}  // namespace
}  // namespace chatterd
