// The process memory readers of pipeline/system_info.h: the cheap resident-set sampler the engine
// calls at the end of every stage segment, against /proc/self/status.

#include "pipeline/system_info.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace chatterd::bench {
namespace {

constexpr std::int64_t kMiB = 1024 * 1024;

TEST(SystemInfo, ResidentBytesGrowsWithTouchedMemory) {
  const std::int64_t before = resident_bytes();
  ASSERT_GT(before, 0);
  constexpr std::size_t kSize = 64 * kMiB;
  // malloc'd, not yet resident: only the pages written below become part of the resident set.
  const std::unique_ptr<char, decltype(&std::free)> block(static_cast<char*>(std::malloc(kSize)),
                                                          &std::free);
  ASSERT_NE(block, nullptr);
  std::memset(block.get(), 1, kSize);
  // The block escapes to the "asm": the compiler must keep the writes.
  asm volatile("" : : "r"(block.get()) : "memory");
  const std::int64_t after = resident_bytes();
  EXPECT_GE(after - before, 60 * kMiB) << "before " << before << " after " << after;
  EXPECT_LE(after - before, 80 * kMiB) << "before " << before << " after " << after;
}

TEST(SystemInfo, ResidentBytesAgreesWithVmRss) {
  const std::int64_t sampled = resident_bytes();
  const MemoryUsage usage = read_memory_usage();
  ASSERT_GT(usage.rss_kib, 0);
  // Two reads of the same quantity, a few allocations apart.
  EXPECT_NEAR(static_cast<double>(sampled), static_cast<double>(usage.rss_kib) * 1024.0,
              4.0 * kMiB);
  EXPECT_LE(sampled, usage.hwm_kib * 1024 + 4 * kMiB);
}

}  // namespace
}  // namespace chatterd::bench
