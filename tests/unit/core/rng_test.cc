#include "core/rng.h"

#include <gtest/gtest.h>

#include <cmath>

namespace chatterd {
namespace {

TEST(Rng, SeedsAreReproducibleAndDistinct) {
  Rng a(7);
  Rng b(7);
  Rng c(8);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(a.next_u64(), c.next_u64());
}

TEST(Rng, UnitFloatInRangeAndNormalMoments) {
  Rng r(123);
  double sum = 0.0;
  double sq = 0.0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const float u = r.next_unit_float();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    const double z = r.next_normal();
    sum += z;
    sq += z * z;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sq / n, 1.0, 0.02);
}

}  // namespace
}  // namespace chatterd
