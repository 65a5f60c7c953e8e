// The vocoder's bf16 path (vocoder_dtype bf16: S3Gen flow + HiFT decoder through the bf16 GEMM
// tile) against the reference goldens, held to the bf16 tolerances of parity.h; and proof that the
// reduced-precision path really ran (its error is above what f32 reaches).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>

#include "fixture_dirs.h"
#include "ops/gemm_bf16.h"
#include "parity/parity.h"

namespace chatterd::parity {
namespace {

class VocoderBf16Golden : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!ops::bf16_gemm_available(ExecContext{})) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  }
};

double worst(const ParityReport& report) {
  double w = 0.0;
  for (const auto& c : report.checks()) w = std::max(w, c.exact ? 0.0 : c.rel_error);
  return w;
}

TEST_P(VocoderBf16Golden, FlowWithinBf16Tolerance) {
  const auto dir = test::kFixturesDir / GetParam();
  const ParityReport report = run_parity(dir, dir / "golden" / "s3gen_flow.safetensors",
                                         {.n_threads = 2, .bf16_vocoder = true});
  EXPECT_TRUE(report.passed()) << report.to_string();
  EXPECT_GT(worst(report), kF32Tolerance) << "the bf16 path did not run";
  std::printf("%s flow bf16: worst rel %.3e\n", GetParam().c_str(), worst(report));
}

TEST_P(VocoderBf16Golden, HiftWithinBf16Tolerance) {
  const auto dir = test::kFixturesDir / GetParam();
  const ParityReport report = run_parity(dir, dir / "golden" / "s3gen_hift.safetensors",
                                         {.n_threads = 2, .bf16_vocoder = true});
  EXPECT_TRUE(report.passed()) << report.to_string();
  EXPECT_GT(worst(report), kF32Tolerance) << "the bf16 path did not run";
  // The F0 predictor stays f32 (SineGen integrates it into the phase): f0 is f32-exact.
  for (const auto& c : report.checks()) {
    if (c.name.starts_with("hift.f0")) {
      EXPECT_LT(c.rel_error, kF32Tolerance) << c.name;
    }
  }
  std::printf("%s hift bf16: worst rel %.3e\n", GetParam().c_str(), worst(report));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VocoderBf16Golden,
                         ::testing::Values("turbo-tiny", "english-tiny"), [](const auto& p) {
                           std::string n = p.param;
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace chatterd::parity
