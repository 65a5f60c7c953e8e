// Logits-processor golden parity for both vocabulary sizes (turbo 6563, english 8194).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "fixture_dirs.h"
#include "parity/parity.h"

namespace chatterd::parity {
namespace {

class SamplingParity : public ::testing::TestWithParam<std::string> {};

TEST_P(SamplingParity, EveryProcessorMatches) {
  const auto dir = test::kFixturesDir / GetParam();
  const ParityReport report = run_parity(dir, dir / "golden" / "sampling_processors.safetensors");
  EXPECT_TRUE(report.passed()) << report.to_string();
  // 6 single processors (rep, temperature, top_k, top_p x2, min_p) + 3 chains.
  EXPECT_EQ(report.checks().size(), 9u) << report.to_string();
}

INSTANTIATE_TEST_SUITE_P(Vocabs, SamplingParity,
                         ::testing::Values(std::string("turbo-tiny"), std::string("english-tiny")));

}  // namespace
}  // namespace chatterd::parity
