// The VocoderBatcher: batched flow solves equal solo solves (meanflow and CFG fixtures), and the
// batching policy (triggers, fast path, length-sorted sub-batches, voice keys by content, stop,
// errors) against a scripted runner.
#include "pipeline/vocoder_batcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "chatterd/core/error.h"
#include "core/rng.h"
#include "fixture_dirs.h"
#include "models/model_dir.h"
#include "models/model_hparams.h"
#include "models/variant.h"
#include "ops/layout.h"
#include "weights/weight_store.h"

namespace chatterd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// ---- solve_batch equals solo solves on the fixtures ----

Tensor random_tokens(std::int64_t n, std::int64_t vocab, std::uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty({1, n}, DType::I64);
  for (std::int64_t i = 0; i < n; ++i) {
    t.data<std::int64_t>()[i] =
        static_cast<std::int64_t>(rng.next_u64() % static_cast<std::uint64_t>(vocab));
  }
  return t;
}

Tensor random_noise(std::int64_t mel, std::int64_t frames, std::uint64_t seed) {
  Rng rng(seed);
  Tensor z = Tensor::empty({1, mel, frames}, DType::F32);
  rng.fill_normal(z.data<float>(), z.numel());
  return z;
}

struct FlowFixture {
  std::shared_ptr<const WeightStore> weights, conds;
  std::unique_ptr<S3GenFlow> flow;
  S3GenPrompt prompt;
};

FlowFixture load_flow(const fs::path& dir) {
  const Variant variant = detect_variant(dir);
  const ModelHparams hp = load_hparams(dir, variant);
  const ModelDir files = ModelDir::scan(dir, variant);
  FlowFixture f;
  f.weights = WeightStore::open(files.find(ModelComponent::S3Gen).value());
  f.flow = std::make_unique<S3GenFlow>(*f.weights, hp.s3gen);
  f.conds = WeightStore::open(dir / "conds.pt");
  f.prompt = S3GenPrompt::from_conds(*f.conds);
  return f;
}

// max |a - b| / max |a|.
double relative_error(const Tensor& a, const Tensor& b) {
  double diff = 0.0;
  double scale = 0.0;
  for (std::int64_t k = 0; k < a.numel(); ++k) {
    diff = std::max(diff, static_cast<double>(std::abs(a.data<float>()[k] - b.data<float>()[k])));
    scale = std::max(scale, static_cast<double>(std::abs(a.data<float>()[k])));
  }
  return diff / scale;
}

// Windows of different lengths and voices (the second voice: the prompt's last 4 tokens),
// solved one by one and as one right-padded batch. Measured: the bf16 path is identical; the f32
// path is identical except the most padded window (54 frames padded to 322), within 3e-7 of the
// scale: an f32 kernel (sgemm under the convs) sums a short sequence in another order than a
// long one; the batch size itself changes nothing (two equal windows: identical). Bounds: f32
// 1e-5 of the scale (float reordering); bf16 1e-2, since one f32 ulp upstream can move a bf16
// rounding.
void expect_batch_matches_solo(const fs::path& dir, bool bf16) {
  FlowFixture fx = load_flow(dir);
  S3GenFlow& flow = *fx.flow;
  ExecContext ctx;
  if (bf16 && !flow.pack_bf16(ctx)) GTEST_SKIP() << "no AVX512_BF16 on this CPU";
  const S3GenPrompt& prompt = fx.prompt;
  S3GenPrompt other = prompt;
  const Tensor prompt_tokens =
      prompt.tokens.rank() == 1 ? prompt.tokens.reshape({1, prompt.tokens.numel()}) : prompt.tokens;
  const std::int64_t tp = prompt_tokens.numel();
  ASSERT_GT(tp, 4);
  const std::int64_t ratio = flow.config().token_mel_ratio;
  const std::int64_t bins = flow.config().mel_bins;
  ops::slice(ctx, prompt_tokens, 1, tp - 4, tp, other.tokens);
  ops::slice(ctx, prompt.mel, 1, (tp - 4) * ratio, tp * ratio, other.mel);

  const std::int64_t vocab = flow.config().vocab_size;
  const std::int64_t lengths[] = {9, 23, 14};
  std::vector<FlowEncoding> encs;
  std::vector<Tensor> zs;
  for (int i = 0; i < 3; ++i) {
    const S3GenPrompt& p = i == 1 ? other : prompt;
    encs.push_back(flow.encode(ctx, random_tokens(lengths[i], vocab, 7 + i), p, i != 2));
    zs.push_back(random_noise(bins, encs.back().mu.dim(2), 100 + i));
  }
  std::vector<Tensor> solo;
  for (int i = 0; i < 3; ++i) {
    solo.push_back(flow.solve(ctx, encs[i], zs[i], flow.config().n_cfm_timesteps));
  }
  const std::vector<const FlowEncoding*> enc_ptrs = {&encs[0], &encs[1], &encs[2]};
  const std::vector<const Tensor*> z_ptrs = {&zs[0], &zs[1], &zs[2]};
  const std::vector<Tensor> batched =
      flow.solve_batch(ctx, enc_ptrs, z_ptrs, flow.config().n_cfm_timesteps);
  ASSERT_EQ(batched.size(), 3u);
  const double bound = bf16 ? 1e-2 : 1e-5;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(batched[i].shape(), solo[i].shape()) << "window " << i;
    const double err = relative_error(solo[i], batched[i]);
    std::printf("%s %s window %d (%ld frames): batched vs solo %.3g of the scale\n",
                dir.filename().c_str(), bf16 ? "bf16" : "f32", i, static_cast<long>(solo[i].dim(2)),
                err);
    EXPECT_LE(err, bound) << "window " << i;
  }
  // Without padding (the same window twice) nothing at all changes.
  const std::vector<const FlowEncoding*> same = {&encs[1], &encs[1]};
  const std::vector<const Tensor*> same_z = {&zs[1], &zs[1]};
  const std::vector<Tensor> twice =
      flow.solve_batch(ctx, same, same_z, flow.config().n_cfm_timesteps);
  EXPECT_EQ(relative_error(solo[1], twice[0]), 0.0);
  EXPECT_EQ(relative_error(solo[1], twice[1]), 0.0);
}

TEST(VocoderBatcherSolve, MeanflowBatchMatchesSoloSolves) {
  expect_batch_matches_solo(test::kFixturesDir / "turbo-tiny", false);
}

TEST(VocoderBatcherSolve, CfgBatchMatchesSoloSolves) {
  expect_batch_matches_solo(test::kFixturesDir / "english-tiny", false);
}

TEST(VocoderBatcherSolve, Bf16BatchMatchesSoloSolves) {
  expect_batch_matches_solo(test::kFixturesDir / "turbo-tiny", true);
}

// ---- the policy, against a scripted runner ----

struct Recorder {
  std::mutex mutex;
  std::vector<std::vector<std::int64_t>> batches;  // frames of each sub-batch, in call order
  std::vector<std::thread::id> threads;
  std::atomic<bool> fail{false};

  VocoderBatcher::Runner runner() {
    return [this](std::span<FlowSolveJob* const> jobs) {
      if (fail) throw InvalidArgument("scripted failure");
      std::vector<std::int64_t> frames;
      for (FlowSolveJob* j : jobs) {
        frames.push_back(j->frames());
        j->result = j->noise->clone();
        j->result.data<float>()[0] += 1.0f;  // proof the runner ran for this job
      }
      const std::lock_guard<std::mutex> lock(mutex);
      batches.push_back(frames);
      threads.push_back(std::this_thread::get_id());
    };
  }
};

struct Window {
  FlowEncoding enc;
  Tensor z;
  explicit Window(std::int64_t frames) {
    enc.mu = Tensor::zeros({1, 1, frames}, DType::F32);
    z = Tensor::zeros({1, 1, frames}, DType::F32);
  }
};

VocoderBatcherConfig config(std::int64_t max_batch, double wait_ms, double early) {
  VocoderBatcherConfig c;
  c.max_batch_size = max_batch;
  c.max_wait_ms = wait_ms;
  c.early_fire_ratio = early;
  return c;
}

std::int64_t fired(const VocoderBatcherStats& s, VocoderBatchTrigger t) {
  return s.by_trigger[static_cast<std::size_t>(t)];
}

TEST(VocoderBatcherPolicy, AloneRunsAtOnceOnTheCallersThread) {
  Recorder rec;
  VocoderBatcher b(rec.runner(), config(4, 10000.0, 1.0));
  auto stream = b.join(1);
  Window w(10);
  const Tensor x = stream->solve(ExecContext{}, w.enc, w.z);
  EXPECT_EQ(x.data<float>()[0], 1.0f);
  ASSERT_EQ(rec.threads.size(), 1u);
  EXPECT_EQ(rec.threads[0], std::this_thread::get_id());
  const auto s = b.stats();
  EXPECT_EQ(fired(s, VocoderBatchTrigger::FastPath), 1);
  EXPECT_EQ(s.windows, 1);
  EXPECT_EQ(s.batched_windows(), 0);
}

// Solves `frames.size()` windows from as many threads, one per joined stream.
std::vector<Tensor> solve_concurrently(VocoderBatcher& b, const std::vector<std::int64_t>& frames,
                                       std::vector<VoiceKey> keys = {}) {
  std::vector<std::unique_ptr<VocoderBatcher::Stream>> streams;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    streams.push_back(b.join(keys.empty() ? 1 : keys[i]));
  }
  // Every window exists before the first thread starts (the vector must not grow under them).
  std::vector<std::unique_ptr<Window>> windows;
  for (const std::int64_t f : frames) windows.push_back(std::make_unique<Window>(f));
  std::vector<std::future<Tensor>> futures;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    futures.push_back(std::async(std::launch::async, [&, i] {
      return streams[i]->solve(ExecContext{}, windows[i]->enc, windows[i]->z);
    }));
  }
  std::vector<Tensor> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

TEST(VocoderBatcherPolicy, FiresFullWhenEveryActiveStreamWaits) {
  Recorder rec;
  // No early fire, no timeout within the test: only "full" can fire.
  VocoderBatcher b(rec.runner(), config(8, 60000.0, 1.0));
  const auto out = solve_concurrently(b, {30, 30, 30});
  for (const Tensor& x : out) EXPECT_EQ(x.data<float>()[0], 1.0f);
  ASSERT_EQ(rec.batches.size(), 1u);
  EXPECT_EQ(rec.batches[0].size(), 3u);
  EXPECT_NE(rec.threads[0], std::this_thread::get_id());
  const auto s = b.stats();
  EXPECT_EQ(fired(s, VocoderBatchTrigger::Full), 1);
  EXPECT_EQ(s.batched_windows(), 3);
  EXPECT_EQ(s.max_batch, 3);
}

TEST(VocoderBatcherPolicy, FiresFullAtMaxBatchSize) {
  Recorder rec;
  VocoderBatcher b(rec.runner(), config(2, 60000.0, 1.0));
  solve_concurrently(b, {30, 30, 30, 30});
  std::int64_t windows = 0;
  for (const auto& batch : rec.batches) {
    EXPECT_LE(batch.size(), 2u);
    windows += static_cast<std::int64_t>(batch.size());
  }
  EXPECT_EQ(windows, 4);
  EXPECT_EQ(fired(b.stats(), VocoderBatchTrigger::Full), 2);
}

TEST(VocoderBatcherPolicy, FiresEarlyAtTheFillRatio) {
  Recorder rec;
  VocoderBatcher b(rec.runner(), config(4, 60000.0, 0.5));
  // Four active streams, two of them idle: 2 of the expected 4 is the early-fire ratio.
  auto idle1 = b.join(1);
  auto idle2 = b.join(1);
  solve_concurrently(b, {20, 20});
  ASSERT_EQ(rec.batches.size(), 1u);
  EXPECT_EQ(rec.batches[0].size(), 2u);
  EXPECT_EQ(fired(b.stats(), VocoderBatchTrigger::Early), 1);
}

TEST(VocoderBatcherPolicy, FiresOnTimeoutWhenOthersDoNotCome) {
  Recorder rec;
  VocoderBatcher b(rec.runner(), config(4, 40.0, 1.0));
  auto idle = b.join(1);
  const auto t0 = std::chrono::steady_clock::now();
  solve_concurrently(b, {20});
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 40ms);
  const auto s = b.stats();
  EXPECT_EQ(fired(s, VocoderBatchTrigger::Timeout), 1);
  EXPECT_GE(s.wait_ms, 40.0);
}

TEST(VocoderBatcherPolicy, SubBatchesAreLengthSortedWithinThePaddingBound) {
  Recorder rec;
  VocoderBatcherConfig c = config(8, 60000.0, 1.0);
  c.max_padding_ratio = 0.25;
  VocoderBatcher b(rec.runner(), c);
  solve_concurrently(b, {200, 100, 205, 102});
  ASSERT_EQ(rec.batches.size(), 2u);
  EXPECT_EQ(rec.batches[0], (std::vector<std::int64_t>{100, 102}));
  EXPECT_EQ(rec.batches[1], (std::vector<std::int64_t>{200, 205}));
  const auto s = b.stats();
  EXPECT_EQ(s.fired(), 1);
  EXPECT_EQ(s.sub_batches, 2);
  EXPECT_EQ(s.frames, 607);
  EXPECT_EQ(s.padded_frames, 2 + 5);
}

TEST(VocoderBatcherPolicy, VoiceKeysComeFromContentAndSplitBatchesWhenAsked) {
  // Same content in two separately built prompts: one key; other content: another.
  auto make = [](float v) {
    S3GenPrompt p;
    const std::int64_t toks[] = {1, 2, 3};
    p.tokens = Tensor::from_span<std::int64_t>(toks, {1, 3});
    p.mel = Tensor::zeros({1, 6, 4}, DType::F32);
    p.embedding = Tensor::zeros({1, 8}, DType::F32);
    p.embedding.data<float>()[0] = v;
    return p;
  };
  const VoiceKey a1 = voice_key(make(0.5f));
  const VoiceKey a2 = voice_key(make(0.5f));
  const VoiceKey b1 = voice_key(make(0.25f));
  EXPECT_EQ(a1, a2);
  EXPECT_NE(a1, b1);

  Recorder rec;
  VocoderBatcherConfig c = config(8, 60000.0, 1.0);
  c.cross_voice = false;
  VocoderBatcher b(rec.runner(), c);
  solve_concurrently(b, {50, 50, 50}, {a1, b1, a2});
  ASSERT_EQ(rec.batches.size(), 2u);
  std::vector<std::size_t> sizes = {rec.batches[0].size(), rec.batches[1].size()};
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 2}));
  EXPECT_EQ(b.stats().mixed_voice_batches, 0);

  Recorder mixed;
  VocoderBatcher m(mixed.runner(), config(8, 60000.0, 1.0));
  solve_concurrently(m, {50, 50, 50}, {a1, b1, a2});
  ASSERT_EQ(mixed.batches.size(), 1u);
  EXPECT_EQ(m.stats().mixed_voice_batches, 1);
}

TEST(VocoderBatcherPolicy, RunnerErrorsReachEveryWindowOfTheBatch) {
  Recorder rec;
  rec.fail = true;
  VocoderBatcher b(rec.runner(), config(8, 60000.0, 1.0));
  auto s1 = b.join(1);
  auto s2 = b.join(1);
  Window w1(10);
  Window w2(10);
  auto f1 = std::async(std::launch::async, [&] { return s1->solve(ExecContext{}, w1.enc, w1.z); });
  auto f2 = std::async(std::launch::async, [&] { return s2->solve(ExecContext{}, w2.enc, w2.z); });
  EXPECT_THROW(f1.get(), InvalidArgument);
  EXPECT_THROW(f2.get(), InvalidArgument);
}

TEST(VocoderBatcherPolicy, StopFailsWaitingWindowsAndLaterJoins) {
  Recorder rec;
  VocoderBatcher b(rec.runner(), config(8, 60000.0, 1.0));
  auto idle = b.join(1);
  auto waiting = b.join(1);
  Window w(10);
  auto f =
      std::async(std::launch::async, [&] { return waiting->solve(ExecContext{}, w.enc, w.z); });
  while (b.stats().max_queue_depth < 1) std::this_thread::sleep_for(1ms);
  b.stop();
  EXPECT_THROW(f.get(), Unavailable);
  EXPECT_THROW(b.join(1), Unavailable);
  EXPECT_TRUE(rec.batches.empty());
}

struct CountingObserver final : EngineObserver {
  std::mutex mutex;
  std::vector<VocoderBatchEvent> events;
  void on_batch_step(std::int64_t, std::chrono::steady_clock::time_point,
                     std::chrono::steady_clock::time_point) override {}
  void on_vocoder_batch(const VocoderBatchEvent& e) override {
    const std::lock_guard<std::mutex> lock(mutex);
    events.push_back(e);
  }
};

TEST(VocoderBatcherPolicy, ObserverSeesEveryFiredBatch) {
  Recorder rec;
  CountingObserver obs;
  VocoderBatcher b(rec.runner(), config(8, 60000.0, 1.0));
  b.set_observer(&obs);
  solve_concurrently(b, {40, 41});
  {
    auto alone = b.join(2);
    Window w(12);
    alone->solve(ExecContext{}, w.enc, w.z);
  }
  ASSERT_EQ(obs.events.size(), 2u);
  EXPECT_EQ(obs.events[0].trigger, VocoderBatchTrigger::Full);
  EXPECT_EQ(obs.events[0].windows, 2);
  EXPECT_EQ(obs.events[0].wait_ms.size(), 2u);
  EXPECT_EQ(obs.events[0].voices, 1);
  EXPECT_EQ(obs.events[1].trigger, VocoderBatchTrigger::FastPath);
  EXPECT_EQ(obs.events[1].windows, 1);
  EXPECT_LE(obs.events[1].start, obs.events[1].end);
}

TEST(VocoderBatcherConfigTest, ValidateNamesTheField) {
  VocoderBatcherConfig c;
  c.max_batch_size = 0;
  EXPECT_THROW(c.validate(), InvalidArgument);
  c = {};
  c.early_fire_ratio = 0.0;
  EXPECT_THROW(c.validate(), InvalidArgument);
  c = {};
  c.max_wait_ms = -1.0;
  EXPECT_THROW(c.validate(), InvalidArgument);
  c = {};
  c.max_padding_ratio = -0.5;
  EXPECT_THROW(c.validate(), InvalidArgument);
  c = {};
  EXPECT_NO_THROW(c.validate());
}

}  // namespace
}  // namespace chatterd
