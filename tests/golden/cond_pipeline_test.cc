// The whole voice-cloning path (build_voice from golden/ref.wav alone) against the reference's
// prepare_conditionals: every recorded stage on turbo-tiny, the final outputs on english-tiny.
// Tokens exact, floats at the stage tolerances of parity_cond_pipeline.cc; 1 and 2 threads.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "fixture_dirs.h"
#include "parity/parity.h"

namespace chatterd {
namespace {

class CondPipelineGolden : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(CondPipelineGolden, BuildVoiceMatchesPrepareConditionals) {
  const auto& [variant_dir, threads] = GetParam();
  const auto dir = test::kFixturesDir / variant_dir;
  const auto report =
      parity::run_parity(dir, dir / "golden" / "cond_pipeline.safetensors", {.n_threads = threads});
  std::printf("%s", report.to_string().c_str());
  EXPECT_TRUE(report.passed()) << report.to_string();
  // One check per golden entry (turbo-tiny holds 20, english-tiny 12): nothing skipped.
  EXPECT_GE(report.checks().size(), variant_dir == "turbo-tiny" ? 20u : 12u);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CondPipelineGolden,
                         ::testing::Combine(::testing::Values("turbo-tiny", "english-tiny"),
                                            ::testing::Values(1, 2)),
                         [](const auto& p) {
                           std::string v = std::get<0>(p.param);
                           for (char& c : v) c = c == '-' ? '_' : c;
                           return v + "_threads" + std::to_string(std::get<1>(p.param));
                         });

}  // namespace
}  // namespace chatterd
