// VoiceEncoder network: partial layout (reference get_num_wins / get_frame_step), padding of
// short mels, bad input, thread invariance. Golden parity is in tests/golden/.

#include <gtest/gtest.h>

#include <cstring>

#include "chatterd/core/error.h"
#include "core/thread_pool.h"
#include "models/synthetic_weights.h"
#include "models/voice/voice_encoder.h"

namespace chatterd {
namespace {

VoiceEncoderConfig tiny_config() {
  VoiceEncoderConfig c;
  c.hidden_size = 8;
  c.embed_size = 16;
  return c;
}

Tensor ramp_mel(std::int64_t frames, std::int64_t mels) {
  Tensor t = Tensor::empty({frames, mels}, DType::F32);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = 0.01f * static_cast<float>((i * 37) % 101);
  return t;
}

TEST(VoicePartials, RealConfigUsesStep77AndCoverageRule) {
  const VoiceEncoderConfig c;  // partial_frames 160, 16 kHz
  // round(16000 / 1.3 / 160) = round(76.9) = 77.
  EXPECT_EQ(voice_partials(551, c).step, 77);
  // 551: span 468 -> 6 full steps, remainder 6: (6 + 83) / 160 < 0.8 -> 6 partials, cut to 545.
  EXPECT_EQ(voice_partials(551, c).count, 6);
  EXPECT_EQ(voice_partials(551, c).target_len, 545);
  // 236: span 153 -> 1, remainder 76: (76 + 83) / 160 >= 0.8 -> 2 partials, padded to 237.
  EXPECT_EQ(voice_partials(236, c).count, 2);
  EXPECT_EQ(voice_partials(236, c).target_len, 237);
  // Shorter than one partial: one zero-padded partial.
  EXPECT_EQ(voice_partials(50, c).count, 1);
  EXPECT_EQ(voice_partials(50, c).target_len, 160);
  EXPECT_EQ(voice_partials(160, c).count, 1);
  // Overlap mode (rate <= 0): step = round(160 * 0.5) = 80.
  EXPECT_EQ(voice_partials(400, c, {0.0, 0.5, 0.8}).step, 80);
}

TEST(VoicePartials, RejectsEmptyMelAndBadOptions) {
  const VoiceEncoderConfig c;
  EXPECT_THROW(voice_partials(0, c), InvalidArgument);
  EXPECT_THROW(voice_partials(100, c, {1.3, 0.5, 0.0}), InvalidArgument);
  EXPECT_THROW(voice_partials(100, c, {0.05, 0.5, 0.8}), InvalidArgument);  // step > 160
}

class VoiceEncoderNet : public ::testing::Test {
 protected:
  VoiceEncoderConfig cfg_ = tiny_config();
  std::shared_ptr<WeightStore> store_ =
      make_synthetic_weights(voice_encoder_tensor_specs(cfg_), 7, "synthetic:ve");
  VoiceEncoder ve_{*store_, cfg_};
  ExecContext ctx_;
};

TEST_F(VoiceEncoderNet, ShortMelIsZeroPaddedToOnePartial) {
  const Tensor mel = ramp_mel(50, cfg_.num_mels);
  Tensor padded = Tensor::zeros({cfg_.partial_frames, cfg_.num_mels}, DType::F32);
  std::memcpy(padded.data<float>(), mel.data<float>(), mel.nbytes());
  const Tensor a = ve_.partial_embeds(ctx_, mel);
  const Tensor b = ve_.partial_embeds(ctx_, padded);
  ASSERT_EQ(a.shape(), Shape({1, cfg_.embed_size}));
  for (std::int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a.data<float>()[i], b.data<float>()[i]);
}

TEST_F(VoiceEncoderNet, EmbeddingIsUnitNormMeanOfPartials) {
  const Tensor mel = ramp_mel(400, cfg_.num_mels);
  const Tensor parts = ve_.partial_embeds(ctx_, mel);
  ASSERT_EQ(parts.dim(0), voice_partials(400, cfg_).count);
  const Tensor emb = ve_.embed(ctx_, mel);
  ASSERT_EQ(emb.shape(), Shape({1, cfg_.embed_size}));
  double norm = 0, dot = 0;
  for (std::int64_t j = 0; j < cfg_.embed_size; ++j) {
    double mean = 0;
    for (std::int64_t i = 0; i < parts.dim(0); ++i) {
      mean += parts.data<float>()[i * cfg_.embed_size + j];
    }
    norm += static_cast<double>(emb.data<float>()[j]) * emb.data<float>()[j];
    dot += mean * emb.data<float>()[j];
  }
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_GT(dot, 0.0);
}

TEST_F(VoiceEncoderNet, SameResultOnAThreadPool) {
  const Tensor mel = ramp_mel(700, cfg_.num_mels);
  ThreadPool pool(2);
  ExecContext pctx;
  pctx.pool = &pool;
  const Tensor a = ve_.embed(ctx_, mel);
  const Tensor b = ve_.embed(pctx, mel);
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    EXPECT_NEAR(a.data<float>()[i], b.data<float>()[i], 1e-6f);
  }
}

TEST_F(VoiceEncoderNet, RejectsBadMels) {
  EXPECT_THROW(ve_.embed(ctx_, Tensor::zeros({0, cfg_.num_mels}, DType::F32)), InvalidArgument);
  EXPECT_THROW(ve_.embed(ctx_, Tensor::zeros({100, cfg_.num_mels + 1}, DType::F32)), ShapeError);
  EXPECT_THROW(ve_.embed(ctx_, Tensor::zeros({cfg_.num_mels, 100, 2}, DType::F32)), ShapeError);
}

}  // namespace
}  // namespace chatterd
