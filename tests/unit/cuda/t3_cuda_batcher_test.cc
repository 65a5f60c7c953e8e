// T3CudaBatcher: continuous batching on the device with device sampling. Free-running tokens
// cannot be compared with a CPU run token for token (bf16 near-ties flip and the runs diverge),
// so each stream's device tokens are replayed through the CPU model (teacher forcing) and every
// token is checked there: greedy picks must be the CPU's argmax or within the bf16 tolerance of
// it; sampled picks must survive the CPU's processor chain. Streams join at different steps and
// end at different lengths, so slots are compacted while others keep decoding.

#include "models/t3/t3_cuda_batcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <vector>

#include "backends/cuda/device.h"
#include "core/check.h"
#include "fixture_dirs.h"
#include "models/t3/logits_processors.h"
#include "models/t3/t3_batch_generate.h"
#include "models/t3/t3_model.h"
#include "t3_golden_inputs.h"
#include "weights/safetensors.h"

namespace chatterd {
namespace {

// A device pick counts as the CPU's argmax when its CPU logit is this close to the maximum,
// relative to the row's largest magnitude (the decoder's device-vs-CPU tolerance).
constexpr double kNearTie = 1e-2;

struct Job {
  std::vector<std::int64_t> text;
  std::int64_t max_gen_len = 0;
  std::int64_t join_at_step = 0;
};

struct JobsRun {
  std::map<T3StreamBatcher::StreamId, T3GenerateResult> results;
  std::map<std::int64_t, std::vector<std::int64_t>> emitted;  // by job index
  std::vector<T3StreamBatcher::StreamId> ids;                 // in job order
};

JobsRun run_jobs(T3StreamBatcher& batcher, const T3Cond& cond, const std::vector<Job>& jobs,
                 const t3::SamplingOptions& sampling) {
  const ExecContext cpu;
  JobsRun run;
  std::size_t next = 0;
  for (std::int64_t step = 0; step < 200 && (next < jobs.size() || batcher.running() > 0); ++step) {
    while (next < jobs.size() && jobs[next].join_at_step <= step) {
      T3GenerateOptions o;
      o.sampling = sampling;
      o.sampling.seed = 1000 + next;
      o.max_gen_len = jobs[next].max_gen_len;
      const std::size_t job = next;
      const auto id = batcher.add(cpu, cond, jobs[next].text, o, [&run, job](std::int64_t t) {
        run.emitted[static_cast<std::int64_t>(job)].push_back(t);
        return true;
      });
      run.ids.push_back(id);
      ++next;
    }
    for (auto& f : batcher.step(cpu)) run.results[f.id] = std::move(f.result);
  }
  return run;
}

// Teacher-forces `tokens` through the CPU model; calls check(step, logits) before each token.
template <class Check>
void replay_on_cpu(const T3Model& model, const T3Cond& cond, const std::vector<std::int64_t>& text,
                   const std::vector<std::int64_t>& tokens, Check check) {
  const ExecContext cpu;
  T3State st = model.new_state(model.prefill_length(cond, std::ssize(text)) + std::ssize(tokens));
  Tensor embeds;
  model.prefill_embeds(cpu, cond, text, st, embeds);
  model.forward(cpu, embeds, st);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    check(i, std::span<const float>(st.logits.data<float>(),
                                    static_cast<std::size_t>(st.logits.numel())));
    const std::int64_t t = tokens[i];
    model.embed_speech(cpu, std::span(&t, 1), st, embeds);
    model.forward(cpu, embeds, st);
  }
}

std::vector<Job> jobs_for(const T3Config& cfg) {
  return {{{cfg.start_text_token, 5, cfg.stop_text_token}, 6, 0},
          {{cfg.start_text_token, 9, 4, 17, 3, 11, cfg.stop_text_token}, 14, 0},
          {{cfg.start_text_token, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, cfg.stop_text_token}, 20, 3},
          {{cfg.start_text_token, 7, 7, cfg.stop_text_token}, 9, 8}};
}

class T3CudaBatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
    model_ = T3Model::load(test::kTurboTinyDir, DType::BF16);
    const auto g = SafetensorsFile::open(test::kTurboTinyDir / "golden" / "t3_turbo.safetensors");
    cond_ = test::t3_golden_inputs(*g).cond;
  }
  std::shared_ptr<const T3Model> model_;
  T3Cond cond_;
};

TEST_F(T3CudaBatcherTest, GreedyTokensAreTheCpuArgmaxUpToNearTiesAcrossJoinsAndCompaction) {
  const T3Config& cfg = model_->config();
  const T3CudaBackend backend(*model_, T3CudaOptions{});
  // Three slots for four jobs: job 3 joins at step 8, into the slot job 0 left.
  t3::SamplingOptions greedy;
  greedy.greedy = true;
  const std::vector<Job> jobs = jobs_for(cfg);
  const auto batcher = backend.make_batcher(3);
  const JobsRun run = run_jobs(*batcher, cond_, jobs, greedy);
  ASSERT_EQ(run.results.size(), jobs.size());
  // Every batch step was timed on the device.
  const T3CudaMemoryStats mem = backend.memory();
  EXPECT_EQ(mem.timed_steps, batcher->steps());
  EXPECT_GT(mem.step_device_ms, 0.0);
  int exact = 0;
  int total = 0;
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    const T3GenerateResult& r = run.results.at(run.ids[j]);
    EXPECT_EQ(r.prefill_length, model_->prefill_length(cond_, std::ssize(jobs[j].text)));
    // Random weights never pick EOS here: every stream runs its budget (first token + steps).
    if (!r.hit_eos) {
      EXPECT_EQ(std::ssize(r.tokens), jobs[j].max_gen_len + 1) << "job " << j;
    }
    EXPECT_EQ(run.emitted.at(static_cast<std::int64_t>(j)), r.tokens) << "job " << j;
    replay_on_cpu(*model_, cond_, jobs[j].text, r.tokens,
                  [&](std::size_t i, std::span<const float> logits) {
                    const float best = *std::max_element(logits.begin(), logits.end());
                    float scale = 0.0f;
                    for (const float v : logits) scale = std::max(scale, std::abs(v));
                    const float mine = logits[static_cast<std::size_t>(r.tokens[i])];
                    EXPECT_LE(best - mine, kNearTie * scale) << "job " << j << " token " << i;
                    exact += mine == best;
                    ++total;
                  });
  }
  std::printf("device greedy picks equal to the CPU argmax: %d of %d\n", exact, total);
  EXPECT_GE(exact, total * 9 / 10);
}

TEST_F(T3CudaBatcherTest, GraphReplaysGiveTheEagerTokens) {
  const T3Config& cfg = model_->config();
  const T3CudaBackend graphs(*model_, T3CudaOptions{.graphs = true});
  const T3CudaBackend eager(*model_, T3CudaOptions{.graphs = false});
  t3::SamplingOptions sampling;  // the Turbo defaults, sampled
  const std::vector<Job> jobs = jobs_for(cfg);
  const auto a = graphs.make_batcher(4);
  const auto b = eager.make_batcher(4);
  const JobsRun ra = run_jobs(*a, cond_, jobs, sampling);
  const JobsRun rb = run_jobs(*b, cond_, jobs, sampling);
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    EXPECT_EQ(ra.results.at(ra.ids[j]).tokens, rb.results.at(rb.ids[j]).tokens) << "job " << j;
  }
}

TEST_F(T3CudaBatcherTest, SampledTokensSurviveTheCpuProcessorChain) {
  const T3Config& cfg = model_->config();
  const T3CudaBackend backend(*model_, T3CudaOptions{});
  t3::SamplingOptions sampling;
  sampling.top_k = 20;  // a narrow set, so a wrong filter shows
  sampling.top_p = 0.8f;
  const std::vector<Job> jobs = jobs_for(cfg);
  const auto batcher = backend.make_batcher(4);
  const JobsRun run = run_jobs(*batcher, cond_, jobs, sampling);
  int kept = 0;
  int total = 0;
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    const T3GenerateResult& r = run.results.at(run.ids[j]);
    std::vector<float> scores;
    replay_on_cpu(*model_, cond_, jobs[j].text, r.tokens,
                  [&](std::size_t i, std::span<const float> logits) {
                    const std::int64_t bos = cfg.start_speech_token;
                    const std::span<const std::int64_t> history =
                        i == 0 ? std::span<const std::int64_t>(&bos, 1)
                               : std::span<const std::int64_t>(r.tokens.data(), i);
                    scores.assign(logits.begin(), logits.end());
                    t3::process_logits(scores, history, sampling, t3::ProcessorChain::Turbo);
                    kept += std::isfinite(scores[static_cast<std::size_t>(r.tokens[i])]);
                    ++total;
                  });
  }
  // bf16 logits may move a token across the top-p edge now and then; nearly all must be inside.
  EXPECT_GE(kept, total * 9 / 10) << kept << " of " << total;
  std::printf("sampled device tokens inside the CPU's filtered set: %d of %d\n", kept, total);
}

TEST_F(T3CudaBatcherTest, RefusesAPrefillLongerThanASlotAndStopsAFullSlot) {
  const T3Config& cfg = model_->config();
  const std::vector<std::int64_t> text{cfg.start_text_token, 5, cfg.stop_text_token};
  const std::int64_t prefill = model_->prefill_length(cond_, std::ssize(text));
  const T3CudaBackend small(
      *model_, T3CudaOptions{.slot_positions = std::max<std::int64_t>(16, prefill + 4)});
  const auto batcher = small.make_batcher(1);
  const ExecContext cpu;
  T3GenerateOptions o;
  o.sampling.greedy = true;
  o.max_gen_len = 100;
  const auto id = batcher->add(cpu, cond_, text, o, {});
  std::vector<T3StreamBatcher::Finished> done;
  for (int i = 0; i < 200 && done.empty(); ++i) done = batcher->step(cpu);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].id, id);
  // The slot holds the prefill plus 4 fed tokens: 4 decode steps, 5 tokens (the first + 4).
  const std::int64_t slot = std::max<std::int64_t>(16, prefill + 4);
  if (!done[0].result.hit_eos) {
    EXPECT_EQ(std::ssize(done[0].result.tokens), slot - prefill + 1);
  }

  std::vector<std::int64_t> long_text(static_cast<std::size_t>(slot), 5);
  EXPECT_THROW(batcher->add(cpu, cond_, long_text, o, {}), InvalidArgument);
}

// English/Multilingual: each stream's CFG pair on the device, the English pick on the host.
// Replayed through the CPU pair, every greedy pick must be the CPU's best processed score or
// within the bf16 tolerance of it.
TEST(T3CudaCfgBatcher, GreedyPicksAreTheCpuChoiceUpToNearTiesAcrossJoinsAndCompaction) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
  const std::filesystem::path dir = std::filesystem::path(CHATTERD_FIXTURES_DIR) / "english-tiny";
  const auto model = T3Model::load(dir, DType::BF16);
  const T3Config& cfg = model->config();
  const T3Cond cond = load_t3_cond(dir / "conds.pt", cfg);
  const T3CudaBackend backend(*model, T3CudaOptions{});
  const auto batcher = backend.make_batcher(3);
  const ExecContext cpu;
  const std::vector<std::int64_t> text{cfg.start_text_token, 12, 40, 7, cfg.stop_text_token};
  // CFG, cfg_weight 0, a CFG stream that stops after 3 tokens (its pair is refilled by the last
  // stream's), and one that joins after that compaction.
  std::vector<T3GenerateOptions> opts(4);
  for (std::size_t j = 0; j < opts.size(); ++j) {
    opts[j].sampling.greedy = true;
    opts[j].max_gen_len = j == 2 ? 3 : 16;
    opts[j].cfg_weight = j == 1 ? 0.0f : 0.5f;
  }
  std::vector<T3StreamBatcher::StreamId> ids;
  for (std::size_t j = 0; j < 3; ++j) ids.push_back(batcher->add(cpu, cond, text, opts[j], {}));
  std::map<T3StreamBatcher::StreamId, T3GenerateResult> results;
  for (int i = 0; i < 100 && (batcher->running() > 0 || ids.size() < opts.size()); ++i) {
    if (i == 6) ids.push_back(batcher->add(cpu, cond, text, opts[3], {}));
    for (auto& f : batcher->step(cpu)) results[f.id] = std::move(f.result);
  }
  ASSERT_EQ(results.size(), opts.size());
  EXPECT_EQ(backend.memory().timed_steps, batcher->steps());
  int exact = 0;
  int total = 0;
  for (std::size_t j = 0; j < opts.size(); ++j) {
    const T3GenerateResult& r = results.at(ids[j]);
    ASSERT_FALSE(r.tokens.empty()) << "stream " << j;
    const std::int64_t rows = opts[j].cfg_weight > 0.0f ? 2 : 1;
    T3State st = model->new_state(r.prefill_length + std::ssize(r.tokens), rows);
    Tensor embeds;
    model->prefill_embeds(cpu, cond, text, st, embeds);
    model->forward(cpu, embeds, st);
    std::vector<std::int64_t> history{cfg.start_speech_token};
    std::vector<float> scores;
    for (std::size_t i = 0; i < r.tokens.size(); ++i) {
      const auto v = static_cast<std::size_t>(st.logits.dim(1));
      const float* c = st.logits.data<float>();
      scores.assign(c, c + v);
      if (rows == 2) {
        for (std::size_t k = 0; k < v; ++k) scores[k] = c[k] + 0.5f * (c[k] - c[v + k]);
      }
      t3::process_logits(scores, history, opts[j].sampling, t3::ProcessorChain::English);
      float best = -std::numeric_limits<float>::infinity();
      float scale = 0.0f;
      for (const float x : scores) {
        if (!std::isfinite(x)) continue;
        best = std::max(best, x);
        scale = std::max(scale, std::abs(x));
      }
      const float mine = scores[static_cast<std::size_t>(r.tokens[i])];
      ASSERT_TRUE(std::isfinite(mine)) << "stream " << j << " token " << i << " was filtered";
      EXPECT_LE(best - mine, kNearTie * scale) << "stream " << j << " token " << i;
      exact += mine == best;
      ++total;
      history.push_back(r.tokens[i]);
      if (i + 1 == r.tokens.size()) break;
      model->decode_embeds(cpu, r.tokens[i], static_cast<std::int64_t>(i), st, embeds);
      model->forward(cpu, embeds, st);
    }
  }
  std::printf("English device greedy picks equal to the CPU's: %d of %d\n", exact, total);
  EXPECT_GE(exact, total * 9 / 10);
}

}  // namespace
}  // namespace chatterd
