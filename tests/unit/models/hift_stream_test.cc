// Chunked HiFT (mel cache, source cache, Hamming cross-fade, hold-back, trim_fade once).
#include "models/hift/hift_stream.h"

#include <gtest/gtest.h>

#include <cmath>

#include "chatterd/core/error.h"
#include "hift_test_util.h"
#include "ops/layout.h"

namespace chatterd::hift {
namespace {

using test::make_tiny_hift;
using test::test_mel;

Tensor frames(const Tensor& mel, std::int64_t a, std::int64_t b) {
  Tensor out;
  ops::slice({}, mel, 2, a, b, out);
  return out;
}

TEST(HiftStream, HammingMatchesNumpy) {
  const auto w = hamming_window(5);
  ASSERT_EQ(w.size(), 5u);
  EXPECT_NEAR(w[0], 0.08f, 1e-7);
  EXPECT_NEAR(w[2], 1.0f, 1e-7);
  EXPECT_NEAR(w[1], 0.54f, 1e-7);
}

// One final push is the offline call + trim_fade (same draws from the same seed).
TEST(HiftStream, SingleLastPushEqualsOffline) {
  const auto t = make_tiny_hift();
  const Tensor mel = test_mel(12);
  Rng a(11);
  HiftStream stream(*t.model);
  const Tensor got = stream.push({}, mel, a, /*last=*/true);
  Rng b(11);
  HiftOutput want = t.model->infer({}, mel, b);
  apply_trim_fade(want.wav);
  ASSERT_EQ(got.shape(), want.wav.shape());
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    ASSERT_EQ(got.data<float>()[i], want.wav.data<float>()[i]) << i;
  }
  EXPECT_TRUE(stream.finished());
}

TEST(HiftStream, ChunkSizesAndContinuity) {
  const auto t = make_tiny_hift();
  const Tensor mel = test_mel(55);
  Rng rng(12);
  HiftStream stream(*t.model);
  const Tensor c0 = stream.push({}, frames(mel, 0, 20), rng, false);
  EXPECT_EQ(c0.numel(), 480 * 12);  // 8 frames held back
  const Tensor c1 = stream.push({}, frames(mel, 20, 40), rng, false);
  EXPECT_EQ(c1.numel(), 480 * 20);
  const Tensor c2 = stream.push({}, frames(mel, 40, 55), rng, true);
  EXPECT_EQ(c2.numel(), 480 * 23);
  EXPECT_EQ(stream.emitted_samples(), 480 * 55);
  for (std::int64_t i = 0; i < 480; ++i) ASSERT_EQ(c0.data<float>()[i], 0.0f) << i;  // trim_fade
  for (const Tensor* c : {&c0, &c1, &c2}) {
    for (std::int64_t i = 0; i < c->numel(); ++i) {
      ASSERT_TRUE(std::isfinite(c->data<float>()[i]));
      ASSERT_LE(std::fabs(c->data<float>()[i]), 0.99f);
    }
  }
  Rng more(1);
  EXPECT_THROW(stream.push({}, frames(mel, 0, 4), more, false), InvalidArgument);
}

TEST(HiftStream, ShortChunksStillAddUp) {
  const auto t = make_tiny_hift();
  const Tensor mel = test_mel(9);
  Rng rng(13);
  HiftStream stream(*t.model);
  std::int64_t total = 0;
  for (std::int64_t f = 0; f < 9; f += 3) {
    total += stream.push({}, frames(mel, f, f + 3), rng, f + 3 == 9).numel();
  }
  EXPECT_EQ(total, 480 * 9);
  EXPECT_THROW(HiftStream(*t.model, -1), InvalidArgument);
}

}  // namespace
}  // namespace chatterd::hift
