#include "core/caching_allocator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <thread>
#include <vector>

#include "chatterd/core/error.h"

namespace chatterd {
namespace {

// Host memory with a budget and a record of what is outstanding, standing in for cudaMalloc.
struct FakeRaw : RawAllocator {
  struct Counters {
    std::size_t budget = 0;
    std::size_t held = 0;
    int allocs = 0;
    int releases = 0;
    std::set<void*> live;
  };
  explicit FakeRaw(Counters* counters) : c(counters) {}
  void* allocate(std::size_t bytes) override {
    if (c->held + bytes > c->budget) return nullptr;
    void* p = std::malloc(bytes);
    c->held += bytes;
    ++c->allocs;
    c->live.insert(p);
    return p;
  }
  void release(void* p, std::size_t bytes) noexcept override {
    EXPECT_EQ(c->live.erase(p), 1u) << "released a block it never handed out";
    c->held -= bytes;
    ++c->releases;
    std::free(p);
  }
  std::string_view name() const override { return "fake"; }
  Counters* c;
};

TEST(CachingAllocator, RoundsToGranules) {
  EXPECT_EQ(CachingAllocator::round_size(0), 512u);
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);
  EXPECT_EQ(CachingAllocator::round_size((1u << 20) - 1), 1u << 20);
  EXPECT_EQ(CachingAllocator::round_size(1u << 20), 2u << 20);
  EXPECT_EQ(CachingAllocator::round_size((2u << 20) + 1), 4u << 20);
}

TEST(CachingAllocator, SteadyStateReusesBlocksWithoutRawCalls) {
  FakeRaw::Counters c{.budget = 64u << 20};
  CachingAllocator alloc(std::make_unique<FakeRaw>(&c));
  // A "decode step": the same three scratch sizes every iteration.
  for (int step = 0; step < 50; ++step) {
    auto a = alloc.allocate(3000);
    auto b = alloc.allocate(100000);
    auto d = alloc.allocate(3u << 20);
    ASSERT_NE(a.get(), b.get());
    ASSERT_NE(b.get(), d.get());
  }
  EXPECT_EQ(c.allocs, 3);
  const auto s = alloc.stats();
  EXPECT_EQ(s.raw_allocations, 3u);
  EXPECT_EQ(s.cache_hits, 147u);
  EXPECT_EQ(s.bytes_in_use, 0u);
  EXPECT_EQ(s.bytes_cached, 3072u + 100352u + (4u << 20));
  EXPECT_EQ(s.peak_bytes_in_use, s.bytes_cached);
}

TEST(CachingAllocator, BestFitTakesOnlyCloseSizes) {
  FakeRaw::Counters c{.budget = 64u << 20};
  CachingAllocator alloc(std::make_unique<FakeRaw>(&c));
  void* big = nullptr;
  {
    auto b = alloc.allocate(8u << 20);
    big = b.get();
  }
  // 2 MiB must not take the cached 8 MiB block (75% waste): a fresh block.
  auto small = alloc.allocate(2u << 20);
  EXPECT_NE(small.get(), big);
  // 7 MiB rounds to 8 MiB: exact reuse.
  auto again = alloc.allocate(7u << 20);
  EXPECT_EQ(again.get(), big);
  EXPECT_EQ(c.allocs, 2);
}

TEST(CachingAllocator, OutOfMemoryEmptiesTheCacheThenThrowsNamingTheAllocator) {
  FakeRaw::Counters c{.budget = 8u << 20};
  CachingAllocator alloc(std::make_unique<FakeRaw>(&c));
  { auto a = alloc.allocate(6u << 20); }  // cached, 6 MiB held
  // 4 MiB fits only once the cached 6 MiB goes back.
  auto b = alloc.allocate(4u << 20);
  EXPECT_EQ(c.releases, 1);
  EXPECT_EQ(alloc.stats().bytes_cached, 0u);
  try {
    auto d = alloc.allocate(6u << 20);
    FAIL() << "expected Unavailable";
  } catch (const Unavailable& e) {
    EXPECT_NE(std::string(e.what()).find("fake: out of memory"), std::string::npos) << e.what();
  }
  EXPECT_EQ(alloc.stats().bytes_in_use, 4u << 20);
}

TEST(CachingAllocator, HandlesOutliveTheAllocatorAndEverythingIsReleased) {
  FakeRaw::Counters c{.budget = 64u << 20};
  std::shared_ptr<void> survivor;
  {
    CachingAllocator alloc(std::make_unique<FakeRaw>(&c));
    { auto cached = alloc.allocate(1000); }
    survivor = alloc.allocate(5000);
    alloc.release_cached();
    EXPECT_EQ(c.releases, 1);
  }
  EXPECT_EQ(c.live.size(), 1u);
  survivor.reset();
  EXPECT_TRUE(c.live.empty());
  EXPECT_EQ(c.held, 0u);
}

TEST(CachingAllocator, CaptureSinkKeepsFreedBlocksOutOfTheCache) {
  FakeRaw::Counters c{.budget = 8u << 20};
  CachingAllocator alloc(std::make_unique<FakeRaw>(&c));
  void* before_capture = nullptr;
  {
    auto warm = alloc.allocate(4096);
    before_capture = warm.get();
  }
  std::vector<std::shared_ptr<void>> sink;
  alloc.set_capture_sink(&sink);
  {
    auto during = alloc.allocate(4096);  // the cached block, freed again inside the capture
    EXPECT_EQ(during.get(), before_capture);
  }
  ASSERT_EQ(sink.size(), 1u);
  EXPECT_EQ(sink[0].get(), before_capture);
  // Out of memory while capturing: the cache is not emptied (no frees inside a capture).
  { auto big = alloc.allocate(1u << 20); }  // a fresh 2 MiB block, freed inside: sunk too
  EXPECT_EQ(sink.size(), 2u);
  EXPECT_THROW(alloc.allocate(7u << 20), Unavailable);
  EXPECT_EQ(c.releases, 0);
  alloc.set_capture_sink(nullptr);
  auto other = alloc.allocate(4096);
  EXPECT_NE(other.get(), before_capture);  // still held by the sink
  EXPECT_EQ(alloc.stats().bytes_in_use, 4096u + 512u * 8 + (2u << 20));
  sink.clear();  // the graph goes: its blocks return to the cache
  EXPECT_EQ(alloc.stats().bytes_cached, 4096u + (2u << 20));
  auto reuse = alloc.allocate(4096);
  EXPECT_EQ(reuse.get(), before_capture);
}

TEST(CachingAllocator, ThreadsShareOneAllocator) {
  FakeRaw::Counters c{.budget = 256u << 20};
  {
    CachingAllocator alloc(std::make_unique<FakeRaw>(&c));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&alloc, t] {
        for (int i = 0; i < 200; ++i) {
          auto p = alloc.allocate(static_cast<std::size_t>(1000 * (t + 1) + i));
          static_cast<char*>(p.get())[0] = 1;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(alloc.stats().bytes_in_use, 0u);
  }
  EXPECT_TRUE(c.live.empty());
}

}  // namespace
}  // namespace chatterd
