// ChatterboxEngine::use_bf16_vocoder on the tiny Turbo model, measured stage by stage against the
// f32 engine. The waveform of a whole synthesis is not the measure: SineGen integrates f0 into a
// running phase, so the 0.2 % f0 difference that a 47 dB mel difference gives turns into a
// different waveform within a second (a phase drift, not a different sound). So: the flow's mel,
// HiFT from one mel, and the synthesis' contracts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include "core/rng.h"
#include "fixture_dirs.h"
#include "models/hift/hift.h"
#include "models/s3gen/s3gen_flow.h"
#include "ops/gemm_bf16.h"
#include "pipeline/chatterbox_engine.h"

namespace chatterd {
namespace {

double snr_db(const float* ref, const float* got, std::int64_t n) {
  double signal = 0.0, noise = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    signal += static_cast<double>(ref[i]) * ref[i];
    noise += (static_cast<double>(ref[i]) - got[i]) * (static_cast<double>(ref[i]) - got[i]);
  }
  return noise > 0.0 ? 10.0 * std::log10(signal / noise) : 1000.0;
}

class Bf16Vocoder : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ops::bf16_gemm_available(ExecContext{})) GTEST_SKIP() << "this CPU has no AVX512_BF16";
    f32_ = ChatterboxEngine::load(test::kTurboTinyDir, 2);
    bf16_ = ChatterboxEngine::load(test::kTurboTinyDir, 2);
    ASSERT_TRUE(bf16_->use_bf16_vocoder());
    ASSERT_TRUE(bf16_->use_bf16_vocoder());  // idempotent
  }
  std::unique_ptr<ChatterboxEngine> f32_, bf16_;
};

// Measured 47.3 dB.
TEST_F(Bf16Vocoder, FlowMelWithin40DbOfF32) {
  std::vector<std::int64_t> ids(60);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int64_t>(i * 7919 % 6561);
  const Tensor tokens = Tensor::from_span<std::int64_t>(ids, {1, 60});
  const S3GenPrompt prompt = f32_->voice("default").gen;
  Rng r1(5), r2(5);
  const Tensor a = f32_->flow().infer(ExecContext{}, tokens, prompt, &r1);
  const Tensor b = bf16_->flow().infer(ExecContext{}, tokens, prompt, &r2);
  ASSERT_EQ(a.shape(), b.shape());
  const double snr = snr_db(a.data<float>(), b.data<float>(), a.numel());
  std::printf("flow mel SNR bf16 vs f32: %.1f dB\n", snr);
  EXPECT_GT(snr, 40.0);
  EXPECT_LT(snr, 200.0);  // not bit-identical: the bf16 path ran
}

// Measured 28.0 dB; HiFT from the same mel (the voice prompt's) and noise.
TEST_F(Bf16Vocoder, HiftWaveformWithin24DbOfF32) {
  const Tensor mel = f32_->voice("default").gen.mel;  // [1, F, 80] prompt mel, as a real mel
  Tensor nct = Tensor::empty({1, mel.dim(2), mel.dim(1)}, DType::F32);
  for (std::int64_t t = 0; t < mel.dim(1); ++t) {
    for (std::int64_t c = 0; c < mel.dim(2); ++c) {
      nct.data<float>()[c * mel.dim(1) + t] = mel.data<float>()[t * mel.dim(2) + c];
    }
  }
  Rng r1(9), r2(9);
  const hift::HiftOutput a = f32_->vocoder().infer(ExecContext{}, nct, r1);
  const hift::HiftOutput b = bf16_->vocoder().infer(ExecContext{}, nct, r2);
  ASSERT_EQ(a.wav.numel(), b.wav.numel());
  const double snr = snr_db(a.wav.data<float>(), b.wav.data<float>(), a.wav.numel());
  std::printf("HiFT waveform SNR bf16 vs f32: %.1f dB\n", snr);
  EXPECT_GT(snr, 24.0);
  EXPECT_LT(snr, 200.0);
}

TEST_F(Bf16Vocoder, SynthesisKeepsItsContracts) {
  SynthesisRequest r;
  r.text = "Hello there, how are you doing today?";
  r.options.seed = 3;
  r.options.max_speech_tokens = 40;
  const SynthesisResult a = f32_->synthesize(r);
  const SynthesisResult b = bf16_->synthesize(r);
  EXPECT_EQ(a.stats.speech_tokens, b.stats.speech_tokens);  // T3 is untouched
  ASSERT_EQ(a.samples.size(), b.samples.size());
  for (const float s : b.samples) {
    ASSERT_TRUE(std::isfinite(s));
    ASSERT_LE(std::fabs(s), 0.99f);
  }
  EXPECT_EQ(bf16_->synthesize(r).samples, b.samples);  // deterministic
}

}  // namespace
}  // namespace chatterd
