// CachingEngine: hits replay the stored audio and chunking, misses synthesise, the key covers
// every option, LRU eviction by bytes, and nothing unseeded/cancelled/failed is stored.
#include "pipeline/caching_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace chatterd {
namespace {

// Audio derived from the request (so different requests give different audio), streamed in
// pieces of `piece` samples, counting calls.
class CountingEngine final : public TtsEngine {
 public:
  explicit CountingEngine(std::size_t n_samples = 1000, std::size_t piece = 300)
      : n_samples_(n_samples), piece_(piece) {
    info_.name = "counting";
  }
  const EngineInfo& info() const override { return info_; }
  SynthesisResult synthesize(const SynthesisRequest& request,
                             const ChunkCallback& on_chunk) override {
    ++calls;
    if (request.text == "throw") throw std::runtime_error("engine failure");
    SynthesisResult r;
    const float base = static_cast<float>(request.text.size() + request.options.seed.value_or(7));
    for (std::size_t i = 0; i < n_samples_; ++i) {
      r.samples.push_back(base * 1e-4f + static_cast<float>(i % 97) * 1e-3f);
    }
    r.stats.speech_tokens = 42;
    if (on_chunk) {
      std::int64_t index = 0;
      for (std::size_t off = 0; off < r.samples.size(); off += piece_) {
        AudioChunk c;
        const std::size_t n = std::min(piece_, r.samples.size() - off);
        c.samples = std::span<const float>(r.samples).subspan(off, n);
        c.index = index++;
        c.is_last = off + n == r.samples.size();
        if (!on_chunk(c)) {
          r.cancelled = !c.is_last;
          break;
        }
      }
    }
    return r;
  }
  std::atomic<int> calls{0};

 private:
  EngineInfo info_;
  std::size_t n_samples_, piece_;
};

SynthesisRequest seeded(std::string text, std::uint64_t seed = 1) {
  SynthesisRequest r;
  r.text = std::move(text);
  r.options.seed = seed;
  return r;
}

struct Fixture {
  explicit Fixture(RequestCacheConfig config = {}, std::size_t n_samples = 1000)
      : inner(std::make_shared<CountingEngine>(n_samples)), cache(inner, config) {}
  std::shared_ptr<CountingEngine> inner;
  CachingEngine cache;
};

TEST(CachingEngine, IdenticalSeededRequestHitsAndReturnsTheSameAudio) {
  Fixture f;
  const SynthesisResult a = f.cache.synthesize(seeded("Hello there."));
  const SynthesisResult b = f.cache.synthesize(seeded("Hello there."));
  EXPECT_EQ(f.inner->calls, 1);
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(b.stats.speech_tokens, 42);
  EXPECT_FALSE(a.stats.cached);
  EXPECT_TRUE(b.stats.cached);
  const RequestCacheStats s = f.cache.stats();
  EXPECT_EQ(s.hits, 1);
  EXPECT_EQ(s.misses, 1);
  EXPECT_EQ(s.entries, 1);
  EXPECT_GT(s.bytes, 1000 * sizeof(float));
}

TEST(CachingEngine, StreamedHitReplaysTheOriginalChunks) {
  Fixture f;
  std::vector<std::vector<float>> first, second;
  std::vector<bool> last_flags;
  f.cache.synthesize(seeded("Hi."), [&](const AudioChunk& c) {
    first.emplace_back(c.samples.begin(), c.samples.end());
    return true;
  });
  const SynthesisResult r = f.cache.synthesize(seeded("Hi."), [&](const AudioChunk& c) {
    second.emplace_back(c.samples.begin(), c.samples.end());
    EXPECT_EQ(c.index, static_cast<std::int64_t>(second.size()) - 1);
    last_flags.push_back(c.is_last);
    return true;
  });
  EXPECT_EQ(f.inner->calls, 1);
  ASSERT_EQ(first.size(), 4u);  // 1000 samples in pieces of 300
  EXPECT_EQ(first, second);
  EXPECT_EQ(last_flags, (std::vector<bool>{false, false, false, true}));
  EXPECT_EQ(r.samples.size(), 1000u);
}

TEST(CachingEngine, StreamedAndWholeRequestsAreCachedApart) {
  Fixture f;
  f.cache.synthesize(seeded("Hi."));
  f.cache.synthesize(seeded("Hi."), [](const AudioChunk&) { return true; });
  EXPECT_EQ(f.inner->calls, 2);
}

TEST(CachingEngine, EveryOptionIsPartOfTheKey) {
  Fixture f;
  const SynthesisRequest base = seeded("Same text.");
  f.cache.synthesize(base);
  std::vector<SynthesisRequest> variants(11, base);
  variants[0].options.seed = 2;
  variants[1].options.temperature = 0.5f;
  variants[2].options.top_k = 10;
  variants[3].options.top_p = 0.9f;
  variants[4].options.min_p = 0.1f;
  variants[5].options.repetition_penalty = 1.3f;
  variants[6].options.cfg_weight = 0.0f;
  variants[7].options.exaggeration = 0.7f;
  variants[8].options.max_speech_tokens = 30;
  variants[9].options.language = "fr";
  variants[10].voice = "other";
  for (const auto& v : variants) f.cache.synthesize(v);
  EXPECT_EQ(f.inner->calls, 12);
  EXPECT_EQ(f.cache.stats().hits, 0);
}

// The chunk sizes shape a streamed run's audio and chunks, not a one-call run's.
TEST(CachingEngine, ChunkSettingsMatterOnlyWhenStreamed) {
  Fixture f;
  const auto take = [](const AudioChunk&) { return true; };
  SynthesisRequest whole = seeded("Same text.");
  whole.options.chunk_tokens = 25;
  f.cache.synthesize(whole);
  whole.options.chunk_tokens = 50;
  whole.options.first_chunk_tokens = 10;
  f.cache.synthesize(whole);
  EXPECT_EQ(f.inner->calls, 1);  // a hit: the same one-call audio

  SynthesisRequest streamed = seeded("Same text.");
  f.cache.synthesize(streamed, take);
  streamed.options.chunk_tokens = 25;
  f.cache.synthesize(streamed, take);
  streamed.options.first_chunk_tokens = 10;
  f.cache.synthesize(streamed, take);
  streamed.options.streaming = false;  // chunks of a one-call run
  f.cache.synthesize(streamed, take);
  EXPECT_EQ(f.inner->calls, 5);
  const SynthesisResult again = f.cache.synthesize(streamed, take);
  EXPECT_EQ(f.inner->calls, 5);
  EXPECT_TRUE(again.stats.cached);
}

TEST(CachingEngine, WhitespaceDifferencesStillHit) {
  Fixture f;
  f.cache.synthesize(seeded("Hello   there.\n"));
  f.cache.synthesize(seeded("  Hello there."));
  EXPECT_EQ(f.inner->calls, 1);
  f.cache.synthesize(seeded("Hello there!"));  // punctuation is content
  f.cache.synthesize(seeded("hello there."));  // so is case
  EXPECT_EQ(f.inner->calls, 3);
}

TEST(CachingEngine, UnseededRequestsBypassUnlessAskedFor) {
  Fixture off;
  SynthesisRequest r;
  r.text = "No seed.";
  off.cache.synthesize(r);
  off.cache.synthesize(r);
  EXPECT_EQ(off.inner->calls, 2);
  EXPECT_EQ(off.cache.stats().uncacheable, 2);

  Fixture on(RequestCacheConfig{.max_bytes = 1 << 20, .cache_unseeded = true});
  on.cache.synthesize(r);
  on.cache.synthesize(r);
  EXPECT_EQ(on.inner->calls, 1);
}

TEST(CachingEngine, ZeroBudgetDisablesTheCache) {
  Fixture f(RequestCacheConfig{.max_bytes = 0});
  f.cache.synthesize(seeded("x"));
  f.cache.synthesize(seeded("x"));
  EXPECT_EQ(f.inner->calls, 2);
  EXPECT_EQ(f.cache.stats().entries, 0);
}

TEST(CachingEngine, EvictsLeastRecentlyUsedWithinTheByteBudget) {
  // Each entry holds 1000 floats (~4 KB + overhead): a 10 KB budget holds two.
  Fixture f(RequestCacheConfig{.max_bytes = 10000});
  f.cache.synthesize(seeded("a"));
  f.cache.synthesize(seeded("b"));
  f.cache.synthesize(seeded("a"));  // a is now the most recent
  f.cache.synthesize(seeded("c"));  // evicts b
  EXPECT_EQ(f.inner->calls, 3);
  const RequestCacheStats s = f.cache.stats();
  EXPECT_EQ(s.evictions, 1);
  EXPECT_EQ(s.entries, 2);
  EXPECT_LE(s.bytes, 10000u);
  f.cache.synthesize(seeded("a"));
  EXPECT_EQ(f.inner->calls, 3);
  f.cache.synthesize(seeded("b"));
  EXPECT_EQ(f.inner->calls, 4);
}

TEST(CachingEngine, EntryLargerThanTheBudgetIsNotStored) {
  Fixture f(RequestCacheConfig{.max_bytes = 1000}, 1000);  // 4000 bytes of samples
  f.cache.synthesize(seeded("big"));
  f.cache.synthesize(seeded("big"));
  EXPECT_EQ(f.inner->calls, 2);
  EXPECT_EQ(f.cache.stats().entries, 0);
}

TEST(CachingEngine, EntryLargerThanItsCapIsNotStoredButSmallerOnesAre) {
  Fixture big(RequestCacheConfig{.max_bytes = 1 << 20, .max_entry_bytes = 3000}, 1000);
  big.cache.synthesize(seeded("big"));
  big.cache.synthesize(seeded("big"));
  EXPECT_EQ(big.inner->calls, 2);
  Fixture small(RequestCacheConfig{.max_bytes = 1 << 20, .max_entry_bytes = 8000}, 1000);
  small.cache.synthesize(seeded("small"));
  small.cache.synthesize(seeded("small"));
  EXPECT_EQ(small.inner->calls, 1);
}

TEST(CachingEngine, CancelledAndFailedRunsAreNotStored) {
  Fixture f;
  const SynthesisResult r =
      f.cache.synthesize(seeded("stop"), [](const AudioChunk& c) { return c.index < 1; });
  EXPECT_TRUE(r.cancelled);
  EXPECT_THROW(f.cache.synthesize(seeded("throw")), std::runtime_error);
  EXPECT_EQ(f.cache.stats().entries, 0);
  f.cache.synthesize(seeded("stop"), [](const AudioChunk&) { return true; });
  EXPECT_EQ(f.inner->calls, 3);
}

TEST(CachingEngine, CancellingAReplayStopsIt) {
  Fixture f;
  f.cache.synthesize(seeded("s"), [](const AudioChunk&) { return true; });
  int pieces = 0;
  const SynthesisResult r =
      f.cache.synthesize(seeded("s"), [&](const AudioChunk&) { return ++pieces < 2; });
  EXPECT_EQ(pieces, 2);
  EXPECT_TRUE(r.cancelled);
  EXPECT_EQ(r.samples.size(), 600u);
}

TEST(CachingEngine, ClearDropsEverything) {
  Fixture f;
  f.cache.synthesize(seeded("a"));
  f.cache.clear();
  EXPECT_EQ(f.cache.stats().entries, 0);
  EXPECT_EQ(f.cache.stats().bytes, 0u);
  f.cache.synthesize(seeded("a"));
  EXPECT_EQ(f.inner->calls, 2);
}

TEST(CachingEngine, ConcurrentRequestsAgree) {
  Fixture f(RequestCacheConfig{.max_bytes = 20000});
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  const std::vector<float> expected = CountingEngine().synthesize(seeded("t0"), {}).samples;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::string text(1, 't');
        text += static_cast<char>('0' + (i + t) % 5);
        const SynthesisResult r = f.cache.synthesize(seeded(text));
        if (text == "t0" && r.samples != expected) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, 0);
  const RequestCacheStats s = f.cache.stats();
  EXPECT_EQ(s.hits + s.misses, 200);
  EXPECT_LE(s.bytes, 20000u);
}

}  // namespace
}  // namespace chatterd
