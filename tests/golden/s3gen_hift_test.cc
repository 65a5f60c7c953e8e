// HiFT vocoder against the reference goldens (turbo-tiny and english-tiny), 1 and 2 threads.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "fixture_dirs.h"
#include "parity/parity.h"

namespace chatterd::parity {
namespace {

struct HiftGoldenCase {
  const char* folder;
  int threads;
};

class S3GenHiftGolden : public ::testing::TestWithParam<HiftGoldenCase> {};

TEST_P(S3GenHiftGolden, EveryStageWithinTolerance) {
  const HiftGoldenCase c = GetParam();
  const auto dir = test::kFixturesDir / c.folder;
  const ParityReport report =
      run_s3gen_hift_parity(dir, dir / "golden" / "s3gen_hift.safetensors", {c.threads});
  EXPECT_TRUE(report.passed()) << report.to_string();
  // The golden's stage list is compared, not skipped: turbo records every stage, english a
  // reduced set (f0, conv_pre, stage 0, sources, wav).
  EXPECT_GE(report.checks().size(), std::string(c.folder) == "turbo-tiny" ? 40u : 15u)
      << report.to_string();
}

INSTANTIATE_TEST_SUITE_P(Folders, S3GenHiftGolden,
                         ::testing::Values(HiftGoldenCase{"turbo-tiny", 1},
                                           HiftGoldenCase{"turbo-tiny", 2},
                                           HiftGoldenCase{"english-tiny", 1},
                                           HiftGoldenCase{"english-tiny", 2}),
                         [](const auto& p) {
                           std::string n = p.param.folder;
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n + "_" + std::to_string(p.param.threads) + "t";
                         });

}  // namespace
}  // namespace chatterd::parity
