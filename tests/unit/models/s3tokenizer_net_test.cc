// S3Tokenizer network pieces: FSQ code (round half to even, base-3 digits), encoder lengths,
// max_len cut, the RoPE head-size restriction, bad input; synthetic weights.

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "chatterd/core/error.h"
#include "core/thread_pool.h"
#include "models/s3tokenizer/s3tokenizer.h"
#include "models/synthetic_weights.h"
#include "ops/layout.h"

namespace chatterd {
namespace {

// atanh, so that ops::tanh gives back (close to) v.
float pre_tanh(float v) {
  return std::atanh(v);
}

TEST(S3Fsq, DigitsAreBase3LittleEndian) {
  ExecContext ctx;
  // Large |h|: tanh = +-1 -> +-0.999 -> +-1 -> digit 2 / 0. h = 0 -> digit 1.
  std::vector<float> h = {10,  10,  10,  10,  10,  10,  10,  10,    // all 2: 3^8 - 1
                          -10, -10, -10, -10, -10, -10, -10, -10,   // all 0
                          0,   0,   0,   0,   0,   0,   0,   0,     // all 1: (3^8 - 1) / 2
                          10,  -10, 0,   0,   0,   0,   0,   -10};  // 2 + 0*3 + 1*(9+...+729) + 0
  Tensor codes;
  s3_fsq_encode(ctx, Tensor::from_span<float>(h, {4, 8}), codes);
  ASSERT_EQ(codes.dtype(), DType::I32);
  EXPECT_EQ(codes.data<std::int32_t>()[0], 6560);
  EXPECT_EQ(codes.data<std::int32_t>()[1], 0);
  EXPECT_EQ(codes.data<std::int32_t>()[2], 3280);
  EXPECT_EQ(codes.data<std::int32_t>()[3], 2 + 9 + 27 + 81 + 243 + 729);
}

TEST(S3Fsq, RoundsHalfToEven) {
  // tanh(h) * 0.999 just above / below 0.5 and -0.5 decides the digit; exactly 0.5 rounds to 0
  // (digit 1), which std::round would send to 1 (digit 2).
  EXPECT_EQ(std::nearbyint(0.5f), 0.0f);
  EXPECT_EQ(std::nearbyint(-0.5f), -0.0f);
  EXPECT_EQ(std::nearbyint(1.5f), 2.0f);
  // A tanh value whose scaled product is exactly +-0.5 in f32.
  float half = 0.5f / kFsqScale;
  for (int i = 0; i < 8 && half * kFsqScale != 0.5f; ++i)
    half = std::nextafter(half, half * kFsqScale < 0.5f ? 1.0f : 0.0f);
  ASSERT_EQ(half * kFsqScale, 0.5f);
  EXPECT_EQ(s3_fsq_digit(half), 1);
  EXPECT_EQ(s3_fsq_digit(-half), 1);
  EXPECT_EQ(s3_fsq_digit(std::nextafter(half, 1.0f)), 2);
  EXPECT_EQ(s3_fsq_digit(-std::nextafter(half, 1.0f)), 0);
  ExecContext ctx;
  std::vector<float> h(8, 0.0f);
  h[0] = pre_tanh(0.52f / kFsqScale);   // -> 0.52 -> 1 -> digit 2
  h[1] = pre_tanh(0.48f / kFsqScale);   // -> 0.48 -> 0 -> digit 1
  h[2] = pre_tanh(-0.52f / kFsqScale);  // -> -1 -> digit 0
  Tensor codes;
  s3_fsq_encode(ctx, Tensor::from_span<float>(h, {1, 8}), codes);
  EXPECT_EQ(codes.data<std::int32_t>()[0], 2 + 1 * 3 + 0 * 9 + (3280 - 1 - 3 - 9));
}

TEST(S3Tokenizer, EncodedLengthIsTwoStride2Convs) {
  EXPECT_EQ(S3Tokenizer::encoded_length(600), 150);
  EXPECT_EQ(S3Tokenizer::encoded_length(1500), 375);
  EXPECT_EQ(S3Tokenizer::encoded_length(1), 1);
  EXPECT_EQ(S3Tokenizer::encoded_length(5), 2);  // 5 -> 3 -> 2
  EXPECT_EQ(S3Tokenizer::encoded_length(601), 151);
}

S3TokenizerConfig tiny_tokenizer(std::int64_t state, std::int64_t heads) {
  S3TokenizerConfig c;
  c.n_mels = 16;
  c.n_audio_state = state;
  c.n_audio_head = heads;
  c.n_audio_layer = 1;
  return c;
}

TEST(S3Tokenizer, RopeTableFixesHeadDimTo64) {
  for (auto [state, heads] : {std::pair<std::int64_t, std::int64_t>{128, 1}, {64, 2}}) {
    const auto cfg = tiny_tokenizer(state, heads);
    const auto store = make_synthetic_weights(s3tokenizer_tensor_specs(cfg), 3, "synthetic:s3");
    EXPECT_THROW(S3Tokenizer(*store, cfg), Unsupported) << state << "/" << heads;
  }
  const auto cfg = tiny_tokenizer(128, 2);  // head_dim 64: fine
  const auto store = make_synthetic_weights(s3tokenizer_tensor_specs(cfg), 3, "synthetic:s3");
  EXPECT_NO_THROW(S3Tokenizer(*store, cfg));
}

class S3TokenizerNet : public ::testing::Test {
 protected:
  S3TokenizerConfig cfg_ = tiny_tokenizer(128, 2);
  std::shared_ptr<WeightStore> store_ =
      make_synthetic_weights(s3tokenizer_tensor_specs(cfg_), 5, "synthetic:s3");
  S3Tokenizer tok_{*store_, cfg_};
  ExecContext ctx_;

  Tensor mel(std::int64_t frames) const {
    Tensor t = Tensor::empty({cfg_.n_mels, frames}, DType::F32);
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      t.data<float>()[i] = std::sin(0.11f * static_cast<float>(i)) * 1.5f;
    }
    return t;
  }
};

TEST_F(S3TokenizerNet, MaxLenCutsTheMelToFourFramesPerToken) {
  const Tensor m = mel(90);
  const Tensor cut = tok_.tokenize(ctx_, m, 10);
  ASSERT_EQ(cut.shape(), Shape({1, 10}));
  Tensor first40;
  ops::slice(ctx_, m, 1, 0, 40, first40);
  const Tensor ref = tok_.tokenize(ctx_, first40);
  for (std::int64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(cut.data<std::int32_t>()[i], ref.data<std::int32_t>()[i]);
  }
  // max_len beyond the mel: everything is used.
  EXPECT_EQ(tok_.tokenize(ctx_, m, 1000).dim(1), S3Tokenizer::encoded_length(90));
  for (std::int64_t i = 0; i < cut.numel(); ++i) {
    EXPECT_GE(cut.data<std::int32_t>()[i], 0);
    EXPECT_LT(cut.data<std::int32_t>()[i], 6561);
  }
}

TEST_F(S3TokenizerNet, SameEncoderOutputOnAThreadPool) {
  const Tensor m = mel(123);
  ThreadPool pool(2);
  ExecContext pctx;
  pctx.pool = &pool;
  const Tensor a = tok_.encode(ctx_, m);
  const Tensor b = tok_.encode(pctx, m.reshape({1, cfg_.n_mels, 123}));
  ASSERT_EQ(a.shape(), Shape({31, 128}));
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    EXPECT_NEAR(a.data<float>()[i], b.data<float>()[i],
                1e-4f * (1 + std::fabs(a.data<float>()[i])));
  }
}

TEST_F(S3TokenizerNet, RejectsBadInput) {
  EXPECT_THROW(tok_.tokenize(ctx_, Tensor::zeros({cfg_.n_mels, 0}, DType::F32)), InvalidArgument);
  EXPECT_THROW(tok_.tokenize(ctx_, mel(40), 0), InvalidArgument);
  EXPECT_THROW(tok_.tokenize(ctx_, Tensor::zeros({cfg_.n_mels + 1, 40}, DType::F32)), ShapeError);
  EXPECT_THROW(tok_.tokenize(ctx_, Tensor::zeros({cfg_.n_mels, 3001}, DType::F32)), Unsupported);
  // ... unless max_len cuts it below the sliding-window limit.
  EXPECT_EQ(tok_.tokenize(ctx_, Tensor::zeros({cfg_.n_mels, 3001}, DType::F32), 5).dim(1), 5);
}

}  // namespace
}  // namespace chatterd
