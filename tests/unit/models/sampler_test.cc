#include "models/t3/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "chatterd/core/error.h"
#include "models/t3/logits_processors.h"

namespace chatterd::t3 {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(LogitsProcessors, TopKKeepsTies) {
  std::vector<float> l{1, 5, 3, 5, 2};
  apply_top_k(l, 2);
  EXPECT_EQ(l, (std::vector<float>{-kInf, 5, -kInf, 5, -kInf}));
  std::vector<float> m{1, 5, 3, 4, 2};
  apply_top_k(m, 3);
  EXPECT_EQ(m, (std::vector<float>{-kInf, 5, 3, 4, -kInf}));
}

TEST(LogitsProcessors, TopPKeepsNucleusAndTheTop) {
  // probs of [0, ln2, ln4] are 1/7, 2/7, 4/7: ascending cumsum 1/7, 3/7, 1.
  std::vector<float> l{0.0f, std::log(2.0f), std::log(4.0f)};
  apply_top_p(l, 0.5f);  // drop where cumsum <= 0.5: the first two
  EXPECT_EQ(l[0], -kInf);
  EXPECT_EQ(l[1], -kInf);
  EXPECT_FLOAT_EQ(l[2], std::log(4.0f));
  std::vector<float> m{0.0f, std::log(2.0f), std::log(4.0f)};
  apply_top_p(m, 0.8f);  // 1 - 0.8 = 0.2: only 1/7 goes
  EXPECT_EQ(m[0], -kInf);
  EXPECT_NE(m[1], -kInf);
}

TEST(LogitsProcessors, RepetitionPenaltyOncePerId) {
  std::vector<float> l{2.0f, -2.0f, 1.0f};
  const std::vector<std::int64_t> hist{0, 1, 0, 0};
  apply_repetition_penalty(l, hist, 2.0f);
  EXPECT_EQ(l, (std::vector<float>{1.0f, -4.0f, 1.0f}));
  const std::vector<std::int64_t> bad{3};
  EXPECT_THROW(apply_repetition_penalty(l, bad, 2.0f), InvalidArgument);
}

TEST(LogitsProcessors, MinPAlwaysKeepsTop) {
  std::vector<float> l{0.0f, 10.0f, 9.0f};
  apply_min_p(l, 0.5f);  // p(9)/p(10) = e^-1 < 0.5 -> dropped
  EXPECT_EQ(l[0], -kInf);
  EXPECT_EQ(l[2], -kInf);
  EXPECT_EQ(l[1], 10.0f);
}

TEST(SamplingOptions, ValidateNamesEveryBadField) {
  SamplingOptions o;
  o.top_p = 0.0f;
  o.top_k = -1;
  try {
    o.validate();
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("top_p"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("top_k"), std::string::npos);
  }
}

TEST(Sampler, SeededAndFollowsDistribution) {
  const std::vector<float> logits{std::log(1.0f), std::log(3.0f), -kInf, std::log(6.0f)};
  Sampler a(42);
  Sampler b(42);
  std::vector<int> counts(4, 0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const std::int64_t t = a.sample(logits);
    ASSERT_EQ(t, b.sample(logits));
    ASSERT_GE(t, 0);
    counts[static_cast<std::size_t>(t)]++;
  }
  EXPECT_EQ(counts[2], 0);
  EXPECT_NEAR(counts[0] / static_cast<double>(n), 0.1, 0.01);
  EXPECT_NEAR(counts[1] / static_cast<double>(n), 0.3, 0.015);
  EXPECT_NEAR(counts[3] / static_cast<double>(n), 0.6, 0.015);
  const std::vector<float> dead{-kInf, -kInf};
  EXPECT_EQ(a.sample(dead), -1);
  EXPECT_EQ(Sampler::argmax(dead), -1);
  EXPECT_EQ(Sampler::argmax(logits), 3);
}

}  // namespace
}  // namespace chatterd::t3
