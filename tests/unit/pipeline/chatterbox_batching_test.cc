// ChatterboxEngine with continuous T3 batching and the vocoder batcher: concurrent requests
// (streamed and whole) give the audio and chunking of the same requests run one by one without
// batching (exactly, or within the stated float-reordering bound).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <thread>
#include <utility>
#include <vector>

#include "chatterd/core/error.h"
#include "fixture_dirs.h"
#include "pipeline/chatterbox_engine.h"

namespace chatterd {
namespace {

struct Outcome {
  std::vector<float> samples;
  std::vector<std::size_t> pieces;
  std::int64_t flow_windows = 0;
};

SynthesisRequest request(int i) {
  SynthesisRequest r;
  const char* texts[] = {"Hello there.", "A second, longer request with more words in it.",
                         "Third one.", "And the fourth request is here."};
  r.text = texts[i % 4];
  r.options.seed = 100 + static_cast<std::uint64_t>(i);
  r.options.max_speech_tokens = 60;
  r.options.chunk_tokens = 25;
  r.options.first_chunk_tokens = 10;  // chunking independent of timing
  r.options.streaming = i != 3;       // one whole (one-call) request among streamed ones
  return r;
}

Outcome run(ChatterboxEngine& engine, int i) {
  Outcome out;
  ChatterboxStageTimes times;
  const SynthesisResult r = engine.synthesize(
      request(i),
      [&](const AudioChunk& c) {
        out.pieces.push_back(c.samples.size());
        return true;
      },
      times);
  out.samples = r.samples;
  out.flow_windows = times.flow_calls;
  return out;
}

// Requests 0..n-1 one by one on `plain`, then all at once on `batched`: {want, got}.
std::pair<std::vector<Outcome>, std::vector<Outcome>> one_by_one_then_together(
    ChatterboxEngine& plain, ChatterboxEngine& batched, int n) {
  std::vector<Outcome> want(static_cast<std::size_t>(n)), got(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) want[static_cast<std::size_t>(i)] = run(plain, i);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] { got[static_cast<std::size_t>(i)] = run(batched, i); });
  }
  for (auto& t : threads) t.join();
  return {std::move(want), std::move(got)};
}

TEST(ChatterboxBatching, ConcurrentRequestsMatchUnbatchedRuns) {
  auto plain = ChatterboxEngine::load(test::kFixturesDir / "turbo-tiny", 2);
  auto batched = ChatterboxEngine::load(test::kFixturesDir / "turbo-tiny", 2);
  batched->enable_batching(T3BatchLoopConfig{.max_batch = 4});
  constexpr int kRequests = 4;
  const auto [want, got] = one_by_one_then_together(*plain, *batched, kRequests);
  for (std::size_t i = 0; i < kRequests; ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    ASSERT_FALSE(want[i].samples.empty());
    EXPECT_EQ(got[i].pieces, want[i].pieces);
    EXPECT_EQ(got[i].samples, want[i].samples);
  }
  EXPECT_GE(want[0].pieces.size(), 2u);  // streamed in several pieces
  const T3BatchLoopStats s = batched->batching_stats();
  // Every T3 request went through the loop, or ran alone while the loop was idle.
  EXPECT_EQ(s.admitted + s.solo, kRequests);
  EXPECT_GE(s.admitted, 1);
  EXPECT_EQ(s.completed, s.admitted);
  EXPECT_EQ(plain->batching_stats().admitted, 0);
}

TEST(ChatterboxBatching, OptedOutRequestsBypassTheLoopWithTheSameAudio) {
  auto engine = ChatterboxEngine::load(test::kFixturesDir / "turbo-tiny", 1);
  EXPECT_EQ(engine->max_concurrency(), 1);
  const Outcome plain = run(*engine, 0);
  engine->enable_batching(T3BatchLoopConfig{.max_batch = 3});
  EXPECT_EQ(engine->max_concurrency(), 3);
  SynthesisRequest alone = request(0);
  alone.options.batching = false;
  std::vector<std::size_t> pieces;
  const SynthesisResult r = engine->synthesize(alone, [&](const AudioChunk& c) {
    pieces.push_back(c.samples.size());
    return true;
  });
  EXPECT_EQ(r.samples, plain.samples);
  EXPECT_EQ(pieces, plain.pieces);
  EXPECT_EQ(engine->batching_stats().admitted, 0);  // it did not go through the loop
  EXPECT_EQ(run(*engine, 0).samples, plain.samples);
  // Alone with batching on: the solo fast path, not the loop.
  EXPECT_EQ(engine->batching_stats().solo, 1);
  EXPECT_EQ(engine->batching_stats().admitted, 0);
}

// max |a - b| / max |a| over the shorter length; infinity when the lengths differ.
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double diff = 0.0;
  double scale = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, static_cast<double>(std::abs(a[i] - b[i])));
    scale = std::max(scale, static_cast<double>(std::abs(a[i])));
  }
  return diff / scale;
}

// Both batchers on (T3 steps and the vocoder's flow solves): every request's audio is that of
// an unbatched run. bf16 vocoder: identical (solve_batch is exact there). f32: solve_batch
// differs from solo solves by float reordering (~3e-7 of the mel's scale), which HiFT's f0
// phase integration carries through the waveform: bound 1e-3 of the waveform's scale (measured
// 0 on this fixture: its windows came out identical).
void expect_vocoder_batching_matches(bool bf16) {
  auto plain = ChatterboxEngine::load(test::kFixturesDir / "turbo-tiny", 2);
  auto batched = ChatterboxEngine::load(test::kFixturesDir / "turbo-tiny", 2);
  if (bf16) {
    if (!plain->use_bf16_vocoder()) GTEST_SKIP() << "no AVX512_BF16 on this CPU";
    ASSERT_TRUE(batched->use_bf16_vocoder());
  }
  batched->enable_batching(T3BatchLoopConfig{.max_batch = 4});
  // No timeout within the test: batches fire when every active stream waits (or is full).
  batched->enable_vocoder_batching(
      VocoderBatcherConfig{.max_batch_size = 4, .max_wait_ms = 60000.0, .early_fire_ratio = 1.0});
  EXPECT_EQ(batched->max_concurrency(), 4);
  constexpr int kRequests = 4;
  const auto [want, got] = one_by_one_then_together(*plain, *batched, kRequests);
  for (std::size_t i = 0; i < kRequests; ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    ASSERT_FALSE(want[i].samples.empty());
    EXPECT_EQ(got[i].pieces, want[i].pieces);
    if (bf16) {
      EXPECT_EQ(got[i].samples, want[i].samples);
    } else {
      const double d = relative_difference(want[i].samples, got[i].samples);
      std::printf("request %zu: batched vs unbatched waveform %.3g of the scale\n", i, d);
      EXPECT_LE(d, 1e-3);
    }
  }
  const VocoderBatcherStats s = batched->vocoder_batching_stats();
  std::int64_t windows = 0;
  for (const Outcome& o : want) windows += o.flow_windows;
  // Every window went through the batcher, and the four streams shared batches.
  EXPECT_EQ(s.windows, windows);
  EXPECT_GE(s.max_batch, 2);
  EXPECT_EQ(s.active_streams, 0);
  EXPECT_EQ(plain->vocoder_batching_stats().windows, 0);
}

TEST(ChatterboxBatching, VocoderBatchingMatchesUnbatchedRunsF32) {
  expect_vocoder_batching_matches(false);
}

TEST(ChatterboxBatching, VocoderBatchingMatchesUnbatchedRunsBf16) {
  expect_vocoder_batching_matches(true);
}

TEST(ChatterboxBatching, BadConfigIsRefused) {
  auto turbo = ChatterboxEngine::load(test::kFixturesDir / "turbo-tiny", 1);
  EXPECT_THROW(turbo->enable_batching(T3BatchLoopConfig{.max_batch = 0}), InvalidArgument);
  EXPECT_THROW(turbo->enable_vocoder_batching(VocoderBatcherConfig{.max_batch_size = 0}),
               InvalidArgument);
}

}  // namespace
}  // namespace chatterd
