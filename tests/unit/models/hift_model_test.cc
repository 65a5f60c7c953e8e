// HiFT model pitfalls on a tiny synthetic model: the last stage's reflection pad side, the 0.01
// slope before conv_post, output length and clamp, trim_fade, cache_source and bad input.
#include <gtest/gtest.h>

#include <cmath>

#include "chatterd/core/error.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "hift_test_util.h"

namespace chatterd::hift {
namespace {

using test::make_tiny_hift;
using test::test_mel;

TEST(HiftModel, OutputLengthAndClamp) {
  const auto t = make_tiny_hift();
  Rng rng(1);
  const HiftOutput out = t.model->infer({}, test_mel(5), rng);
  ASSERT_EQ(t.model->samples_per_frame(), 480);
  ASSERT_EQ(out.wav.shape(), (Shape{1, 2400}));
  ASSERT_EQ(out.source.shape(), (Shape{1, 1, 2400}));
  for (std::int64_t i = 0; i < out.wav.numel(); ++i) {
    ASSERT_TRUE(std::isfinite(out.wav.data<float>()[i]));
    ASSERT_LE(std::fabs(out.wav.data<float>()[i]), 0.99f);
  }
}

// ReflectionPad1d((1, 0)): one sample on the LEFT, mirroring sample 1 (not repeating sample 0).
TEST(HiftModel, LastStageReflectionPadIsOnTheLeft) {
  const auto t = make_tiny_hift();
  Rng rng(2);
  HiftTrace trace;
  (void)t.model->infer({}, test_mel(3), rng, nullptr, &trace);
  const Tensor& ups = *trace.find("hift.ups.2.out");
  const Tensor& fused = *trace.find("hift.stage2.fused_x");
  const Tensor& src = *trace.find("hift.source_resblocks.2.out");
  const std::int64_t c = ups.dim(1);
  const std::int64_t n = ups.dim(2);
  ASSERT_EQ(fused.dim(2), n + 1);
  for (std::int64_t ch = 0; ch < c; ++ch) {
    const float* u = ups.data<float>() + ch * n;
    const float* f = fused.data<float>() + ch * (n + 1);
    const float* s = src.data<float>() + ch * (n + 1);
    EXPECT_NEAR(f[0] - s[0], u[1], 1e-5);
    for (std::int64_t i = 0; i < n; ++i) EXPECT_NEAR(f[i + 1] - s[i + 1], u[i], 1e-5);
  }
}

TEST(HiftModel, ConvPostInputUsesSlope001) {
  const auto t = make_tiny_hift();
  Rng rng(3);
  HiftTrace trace;
  (void)t.model->infer({}, test_mel(3), rng, nullptr, &trace);
  const Tensor& x = *trace.find("hift.stage2.out");
  const Tensor& y = *trace.find("hift.conv_post.in");
  int negatives = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const float v = x.data<float>()[i];
    if (v < 0.0f) ++negatives;
    EXPECT_FLOAT_EQ(y.data<float>()[i], v > 0.0f ? v : 0.01f * v) << i;
  }
  EXPECT_GT(negatives, 0);  // the check means something
}

TEST(HiftModel, SameNoiseSameOutputAnyThreads) {
  const auto t = make_tiny_hift();
  ThreadPool pool(2);
  Rng a(9);
  Rng b(9);
  const HiftOutput x = t.model->infer({}, test_mel(4), a);
  const HiftOutput y = t.model->infer(ExecContext{&pool}, test_mel(4), b);
  for (std::int64_t i = 0; i < x.wav.numel(); ++i) {
    EXPECT_NEAR(x.wav.data<float>()[i], y.wav.data<float>()[i], 1e-5) << i;
  }
}

TEST(HiftModel, CacheSourceOverwritesTheExcitationStart) {
  const auto t = make_tiny_hift();
  Tensor cache = Tensor::empty({1, 1, 700}, DType::F32);
  for (std::int64_t i = 0; i < 700; ++i) cache.data<float>()[i] = 0.001f * static_cast<float>(i);
  Rng rng(4);
  const HiftOutput out = t.model->infer({}, test_mel(3), rng, &cache);
  for (std::int64_t i = 0; i < 700; ++i) {
    ASSERT_EQ(out.source.data<float>()[i], cache.data<float>()[i]);
  }
  Rng rng2(4);
  const HiftOutput plain = t.model->infer({}, test_mel(3), rng2);
  EXPECT_EQ(out.source.data<float>()[700], plain.source.data<float>()[700]);
  Tensor too_long = Tensor::zeros({1, 1, 1441}, DType::F32);
  Rng rng3(4);
  EXPECT_THROW(t.model->infer({}, test_mel(3), rng3, &too_long), ShapeError);
}

TEST(HiftModel, BadInput) {
  const auto t = make_tiny_hift();
  Rng rng(5);
  // Zero frames: empty outputs, no error (a streaming flush may have nothing new).
  const HiftOutput empty = t.model->infer({}, Tensor::empty({1, 80, 0}, DType::F32), rng);
  EXPECT_EQ(empty.wav.shape(), (Shape{1, 0}));
  EXPECT_EQ(empty.source.shape(), (Shape{1, 1, 0}));
  EXPECT_THROW(t.model->infer({}, Tensor::zeros({1, 79, 4}, DType::F32), rng), ShapeError);
  EXPECT_THROW(t.model->infer({}, Tensor::zeros({80, 4}, DType::F32), rng), ShapeError);
  Tensor nan_mel = test_mel(4);
  nan_mel.data<float>()[17] = std::nanf("");
  EXPECT_THROW(t.model->infer({}, nan_mel, rng), InvalidArgument);
  nan_mel.data<float>()[17] = INFINITY;
  EXPECT_THROW(t.model->infer({}, nan_mel, rng), InvalidArgument);
  HiftSourceNoise short_noise = HiftSourceNoise::draw(rng, 3, 4 * 480 - 1);
  EXPECT_THROW(t.model->infer({}, test_mel(4), short_noise), ShapeError);
  HiftSourceNoise wrong_harmonics = HiftSourceNoise::draw(rng, 4, 4 * 480);
  EXPECT_THROW(t.model->infer({}, test_mel(4), wrong_harmonics), ShapeError);
}

TEST(HiftTrimFade, WindowShape) {
  const auto w = trim_fade_window();
  ASSERT_EQ(w.size(), 960u);
  for (int i = 0; i < 480; ++i) ASSERT_EQ(w[static_cast<std::size_t>(i)], 0.0f) << i;
  EXPECT_NEAR(w[480], 0.0f, 1e-7);  // cos(pi) + 1 = 0
  EXPECT_FLOAT_EQ(w[959], 1.0f);
  for (int i = 481; i < 960; ++i) {
    ASSERT_GE(w[static_cast<std::size_t>(i)], w[static_cast<std::size_t>(i - 1)]) << i;
  }
  EXPECT_NEAR(w[480 + 240], 0.5f, 5e-3);
}

TEST(HiftTrimFade, AppliesToTheFirst960SamplesOnly) {
  Tensor wav = Tensor::empty({1, 1000}, DType::F32);
  for (std::int64_t i = 0; i < 1000; ++i) wav.data<float>()[i] = 0.5f;
  apply_trim_fade(wav);
  const auto w = trim_fade_window();
  for (std::int64_t i = 0; i < 960; ++i) {
    ASSERT_EQ(wav.data<float>()[i], 0.5f * w[static_cast<std::size_t>(i)]) << i;
  }
  for (std::int64_t i = 960; i < 1000; ++i) ASSERT_EQ(wav.data<float>()[i], 0.5f);
  Tensor shorter = Tensor::zeros({1, 100}, DType::F32);  // shorter than the window: fine
  apply_trim_fade(shorter);
  Tensor two_rows = Tensor::zeros({2, 100}, DType::F32);
  EXPECT_THROW(apply_trim_fade(two_rows), ShapeError);
}

}  // namespace
}  // namespace chatterd::hift
