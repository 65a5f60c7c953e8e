// S3Gen flow (speech tokens -> mel) parity on the tiny fixture models: meanflow (turbo-tiny, 2
// linear Euler steps) and CFG (english-tiny, 10 cosine Euler steps), 1 and 2 threads.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <tuple>

#include "parity/parity.h"

namespace chatterd::parity {
namespace {

std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(CHATTERD_FIXTURES_DIR) / name;
}

class S3GenFlowParity : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(S3GenFlowParity, EveryStageMatchesTheReference) {
  const auto& [folder, threads] = GetParam();
  const auto dir = fixture(folder);
  ParityOptions opt;
  opt.n_threads = threads;
  const ParityReport report = run_parity(dir, dir / "golden" / "s3gen_flow.safetensors", opt);
  EXPECT_TRUE(report.passed()) << report.to_string();
  // The report covers the encoder, the solver steps and the output, not just a few tensors.
  bool saw_output = false, saw_step = false, saw_encoder = false;
  const ParityCheck* worst = nullptr;
  for (const auto& c : report.checks()) {
    if (!c.exact && (worst == nullptr || c.rel_error > worst->rel_error)) worst = &c;
    saw_output = saw_output || c.name == "output.mel";
    saw_step = saw_step || c.name == "cfm.step1.x";
    saw_encoder = saw_encoder || c.name == "encoder.out.h";
  }
  EXPECT_TRUE(saw_output && saw_step && saw_encoder) << report.to_string();
  ASSERT_NE(worst, nullptr);
  std::printf("%s: %zu checks, worst rel %.3e (%s)\n", folder.c_str(), report.checks().size(),
              worst->rel_error, worst->name.c_str());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, S3GenFlowParity,
                         ::testing::Combine(::testing::Values("turbo-tiny", "english-tiny"),
                                            ::testing::Values(1, 2)),
                         [](const auto& param_info) {
                           std::string name = std::get<0>(param_info.param) + "_" +
                                              std::to_string(std::get<1>(param_info.param));
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace chatterd::parity
