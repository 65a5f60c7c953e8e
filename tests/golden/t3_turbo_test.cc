// T3 Turbo golden parity on tests/fixtures/turbo-tiny, single- and multi-threaded.
#include <gtest/gtest.h>

#include <filesystem>

#include "fixture_dirs.h"
#include "parity/parity.h"

namespace chatterd::parity {
namespace {

class T3TurboParity : public ::testing::TestWithParam<int> {};

TEST_P(T3TurboParity, MatchesReference) {
  ParityOptions opt;
  opt.n_threads = GetParam();
  const auto dir = test::kFixturesDir / "turbo-tiny";
  const ParityReport report = run_parity(dir, dir / "golden" / "t3_turbo.safetensors", opt);
  EXPECT_TRUE(report.passed()) << report.to_string();
  // Every stage is checked: cond, embeds, prefill, teacher-forced decode, greedy x2.
  EXPECT_GE(report.checks().size(), 13u) << report.to_string();
}

INSTANTIATE_TEST_SUITE_P(Threads, T3TurboParity, ::testing::Values(1, 2));

}  // namespace
}  // namespace chatterd::parity
