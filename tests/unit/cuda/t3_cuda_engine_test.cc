// The Chatterbox engine with T3 on the device (EngineConfig::device = cuda): whole and streamed
// requests, concurrent callers sharing the device's batch loop, and the device memory it reports.
// The tokens themselves are checked in t3_cuda_batcher_test.cc.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "backends/cuda/device.h"
#include "chatterd/core/error.h"
#include "chatterd/engine/tts_engine.h"
#include "fixture_dirs.h"

namespace chatterd {
namespace {

SynthesisRequest request(const std::string& text, std::uint64_t seed, bool streaming) {
  SynthesisRequest r;
  r.text = text;
  r.options.seed = seed;
  r.options.streaming = streaming;
  r.options.max_speech_tokens = 60;
  return r;
}

bool all_finite(const std::vector<float>& v) {
  for (const float x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

TEST(T3CudaEngine, SpeaksWholeAndStreamedAndSharesTheDeviceBetweenCallers) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
  const auto engine = create_engine({.model = test::kTurboTinyDir.string(),
                                     .n_threads = 2,
                                     .max_batch = 4,
                                     .device = {.kind = Device::CUDA, .index = 0}});
  EXPECT_EQ(engine->info().device.rfind("cuda:0 ", 0), 0u) << engine->info().device;
  EXPECT_EQ(engine->max_concurrency(), 4);

  const SynthesisResult whole = engine->synthesize(request("Hello there.", 7, false));
  EXPECT_FALSE(whole.samples.empty());
  EXPECT_TRUE(all_finite(whole.samples));

  std::int64_t chunks = 0;
  const SynthesisResult streamed =
      engine->synthesize(request("Hello there.", 7, true), [&](const AudioChunk& c) {
        EXPECT_EQ(c.index, chunks);
        ++chunks;
        return true;
      });
  EXPECT_GT(chunks, 0);
  EXPECT_TRUE(all_finite(streamed.samples));

  // Four callers at once: each gets audio (the loop batches their T3 steps on the device).
  std::vector<SynthesisResult> results(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = engine->synthesize(request("Four voices at once.", 100 + i, true));
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    EXPECT_FALSE(r.samples.empty());
    EXPECT_TRUE(all_finite(r.samples));
  }
  const EngineMemoryStats m = engine->memory_stats();
  EXPECT_GT(m.device_bytes_in_use, 0);  // weights and KV slots
  EXPECT_GE(m.device_peak_bytes_in_use, m.device_bytes_in_use);
}

TEST(T3CudaEngine, EnglishSpeaksOnTheDeviceWithItsCfgPair) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
  const auto engine = create_engine({.model = std::string(CHATTERD_FIXTURES_DIR) + "/english-tiny",
                                     .n_threads = 2,
                                     .max_batch = 2,
                                     .device = {.kind = Device::CUDA, .index = 0}});
  SynthesisRequest r = request("Hello there.", 3, true);
  const SynthesisResult guided = engine->synthesize(r);
  EXPECT_FALSE(guided.samples.empty());
  EXPECT_TRUE(all_finite(guided.samples));
  r.options.cfg_weight = 0.0f;  // a single row
  const SynthesisResult single = engine->synthesize(r);
  EXPECT_TRUE(all_finite(single.samples));
}

}  // namespace
}  // namespace chatterd
