// T3 English / Multilingual (Llama backbone, Perceiver, CFG) golden parity on the tiny fixtures,
// single- and multi-threaded.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <tuple>

#include "fixture_dirs.h"
#include "parity/parity.h"

namespace chatterd::parity {
namespace {

class T3LlamaParity : public ::testing::TestWithParam<std::tuple<const char*, const char*, int>> {};

TEST_P(T3LlamaParity, MatchesReference) {
  const auto& [dir_name, golden_name, threads] = GetParam();
  ParityOptions opt;
  opt.n_threads = threads;
  const auto dir = test::kFixturesDir / dir_name;
  const ParityReport report = run_parity(dir, dir / "golden" / golden_name, opt);
  EXPECT_TRUE(report.passed()) << report.to_string();
  // cond x5, embeds x2, prefill x3, tf x4, greedy x2.
  EXPECT_GE(report.checks().size(), 16u) << report.to_string();
}

INSTANTIATE_TEST_SUITE_P(
    Variants, T3LlamaParity,
    ::testing::Values(std::make_tuple("english-tiny", "t3_english.safetensors", 1),
                      std::make_tuple("english-tiny", "t3_english.safetensors", 2),
                      std::make_tuple("multilingual-tiny", "t3_mtl.safetensors", 1),
                      std::make_tuple("multilingual-tiny", "t3_mtl.safetensors", 2)));

}  // namespace
}  // namespace chatterd::parity
