// HiFT with cache_source against the reference's s3gen_stream golden, 1 and 2 threads.
#include <gtest/gtest.h>

#include <filesystem>

#include "fixture_dirs.h"
#include "parity/parity.h"

namespace chatterd::parity {
namespace {

TEST(S3GenStreamGolden, CacheSourceOneThread) {
  const ParityReport report = run_s3gen_stream_parity(
      test::kTurboTinyDir, test::kTurboTinyDir / "golden" / "s3gen_stream.safetensors", {1});
  EXPECT_TRUE(report.passed()) << report.to_string();
  EXPECT_EQ(report.checks().size(), 4u);
}

TEST(S3GenStreamGolden, CacheSourceTwoThreads) {
  const ParityReport report = run_s3gen_stream_parity(
      test::kTurboTinyDir, test::kTurboTinyDir / "golden" / "s3gen_stream.safetensors", {2});
  EXPECT_TRUE(report.passed()) << report.to_string();
}

}  // namespace
}  // namespace chatterd::parity
