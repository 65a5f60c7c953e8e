// ChatterboxEngine with continuous T3 batching: concurrent requests (streamed and whole) give
// exactly the audio and chunking of the same requests run one by one without batching.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>
#include <vector>

#include "chatterd/core/error.h"
#include "pipeline/chatterbox_engine.h"

namespace chatterd {
namespace {

const std::filesystem::path kFixtures(CHATTERD_FIXTURES_DIR);

struct Outcome {
  std::vector<float> samples;
  std::vector<std::size_t> pieces;
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
  const SynthesisResult r = engine.synthesize(request(i), [&](const AudioChunk& c) {
    out.pieces.push_back(c.samples.size());
    return true;
  });
  out.samples = r.samples;
  return out;
}

TEST(ChatterboxBatching, ConcurrentRequestsMatchUnbatchedRuns) {
  auto plain = ChatterboxEngine::load(kFixtures / "turbo-tiny", 2);
  auto batched = ChatterboxEngine::load(kFixtures / "turbo-tiny", 2);
  batched->enable_batching(T3BatchLoopConfig{.max_batch = 4});
  constexpr int kRequests = 4;
  std::vector<Outcome> want(kRequests), got(kRequests);
  for (int i = 0; i < kRequests; ++i) want[static_cast<std::size_t>(i)] = run(*plain, i);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] { got[static_cast<std::size_t>(i)] = run(*batched, i); });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < kRequests; ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    ASSERT_FALSE(want[i].samples.empty());
    EXPECT_EQ(got[i].pieces, want[i].pieces);
    EXPECT_EQ(got[i].samples, want[i].samples);
  }
  EXPECT_GE(want[0].pieces.size(), 2u);  // streamed in several pieces
  const T3BatchLoopStats s = batched->batching_stats();
  EXPECT_EQ(s.admitted, kRequests);  // every T3 request went through the loop
  EXPECT_EQ(s.completed, kRequests);
  EXPECT_EQ(plain->batching_stats().admitted, 0);
}

TEST(ChatterboxBatching, OptedOutRequestsBypassTheLoopWithTheSameAudio) {
  auto engine = ChatterboxEngine::load(kFixtures / "turbo-tiny", 1);
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
  EXPECT_EQ(engine->batching_stats().admitted, 1);
}

TEST(ChatterboxBatching, BadConfigIsRefused) {
  auto turbo = ChatterboxEngine::load(kFixtures / "turbo-tiny", 1);
  EXPECT_THROW(turbo->enable_batching(T3BatchLoopConfig{.max_batch = 0}), InvalidArgument);
}

}  // namespace
}  // namespace chatterd
