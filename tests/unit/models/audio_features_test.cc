// Loudness, silence trimming and the four mel front-ends on synthetic signals, plus bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <numbers>
#include <vector>

#include "audio/features.h"
#include "audio/loudness.h"
#include "audio/mel_filters.h"
#include "audio/trim.h"
#include "chatterd/core/error.h"
#include "unit/models/audio_test_util.h"

namespace chatterd::audio {
namespace {

using test::sine;

std::vector<float> with_nan(std::vector<float> x) {
  x[x.size() / 2] = std::numeric_limits<float>::quiet_NaN();
  return x;
}

TEST(Loudness, FullScaleSineIsAboutMinus3Lufs) {
  // BS.1770: a 0 dBFS 1 kHz sine reads -3.01 LUFS (pyloudnorm's K filter: within a few 0.01 dB).
  const double l = integrated_loudness(sine(1000.0, 48000, 48000 * 3, 1.0), 48000);
  EXPECT_NEAR(l, -3.01, 0.05);
  const double l24 = integrated_loudness(sine(1000.0, 24000, 24000 * 3, 1.0), 24000);
  EXPECT_NEAR(l24, -3.01, 0.1);
}

TEST(Loudness, GainShiftsLoudnessExactly) {
  const auto x = sine(440.0, 24000, 24000 * 2, 0.1);
  std::vector<float> y(x);
  for (float& v : y) v *= 2.0f;
  EXPECT_NEAR(integrated_loudness(y, 24000) - integrated_loudness(x, 24000), 20 * std::log10(2.0),
              1e-6);
  // Clipping-level input (|x| up to 4) is measured, not rejected: the reference does not clip.
  std::vector<float> hot(x);
  for (float& v : hot) v *= 40.0f;
  EXPECT_NEAR(integrated_loudness(hot, 24000) - integrated_loudness(x, 24000),
              20 * std::log10(40.0), 1e-6);
}

TEST(Loudness, NormaliseHitsTarget) {
  std::vector<float> x = sine(300.0, 24000, 24000 * 6, 0.3);
  const LoudnessNormalization r = normalize_loudness(x, 24000, -27.0);
  ASSERT_TRUE(r.applied);
  EXPECT_NEAR(integrated_loudness(x, 24000), -27.0, 1e-4);
}

TEST(Loudness, SilenceIsMinusInfinityAndSkipsGain) {
  std::vector<float> x(24000, 0.0f);
  EXPECT_EQ(integrated_loudness(x, 24000), -std::numeric_limits<double>::infinity());
  const LoudnessNormalization r = normalize_loudness(x, 24000);
  EXPECT_FALSE(r.applied);
  EXPECT_TRUE(std::all_of(x.begin(), x.end(), [](float v) { return v == 0.0f; }));
}

TEST(Loudness, BadInput) {
  std::vector<float> short_clip(9599, 0.1f);  // one block at 24 kHz is 9600 samples
  try {
    integrated_loudness(short_clip, 24000);
    ADD_FAILURE() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("9600"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(normalize_loudness(short_clip, 24000).applied);  // reference: meter raises, skipped
  EXPECT_THROW(integrated_loudness(with_nan(sine(100.0, 24000, 24000)), 24000), InvalidArgument);
  EXPECT_THROW(integrated_loudness(std::vector<float>{}, 24000), InvalidArgument);
}

double biquad_gain_db(const Biquad& f, double w) {
  const std::complex<double> z = std::polar(1.0, -w);
  const auto num = f.b[0] + f.b[1] * z + f.b[2] * z * z;
  const auto den = f.a[0] + f.a[1] * z + f.a[2] * z * z;
  return 20.0 * std::log10(std::abs(num / den));
}

TEST(Loudness, KWeightingResponse) {
  for (double sr : {16000.0, 24000.0, 48000.0}) {
    const Biquad hs = k_weighting_high_shelf(sr);
    EXPECT_NEAR(biquad_gain_db(hs, 1e-6), 0.0, 1e-6);             // unity at DC
    EXPECT_NEAR(biquad_gain_db(hs, std::numbers::pi), 4.0, 0.3);  // +4 dB shelf
    const Biquad hp = k_weighting_high_pass(sr);
    EXPECT_LT(biquad_gain_db(hp, 2 * std::numbers::pi * 5.0 / sr), -20.0);  // 5 Hz cut
    // Q = 0.5 is two coincident real poles: |H(f)|^2 ~ 1 / (1 + (fc/f)^2)^2 -> -0.0125 dB at 1 kHz.
    EXPECT_NEAR(biquad_gain_db(hp, 2 * std::numbers::pi * 1000.0 / sr), -0.0125, 1e-3);
    EXPECT_DOUBLE_EQ(hs.a[0], 1.0);
    EXPECT_DOUBLE_EQ(hp.a[0], 1.0);
  }
}

TEST(Trim, KeepsTheVoicedSpan) {
  std::vector<float> x(20000, 0.0f);
  const auto s = sine(200.0, 16000, 8000, 0.5);
  std::copy(s.begin(), s.end(), x.begin() + 5000);
  const TrimRange r = trim_silence(x);
  EXPECT_EQ(r.start % 512, 0);
  EXPECT_LE(r.start, 5000);
  EXPECT_GT(r.start, 5000 - 2048);
  EXPECT_GE(r.end, 13000);
  EXPECT_LT(r.end, 13000 + 2048);
  const TrimRange all = trim_silence(std::vector<float>(3000, 0.0f));  // librosa keeps it all
  EXPECT_EQ(all.start, 0);
  EXPECT_EQ(all.end, 3000);
  EXPECT_THROW(trim_silence(std::vector<float>{}), InvalidArgument);
  EXPECT_THROW(trim_silence(with_nan(x)), InvalidArgument);
}

// Index of the mel band whose filter peaks nearest `hz`.
int argmax_row(const float* row, int n) {
  return static_cast<int>(std::max_element(row, row + n) - row);
}

TEST(Features, VoiceEncoderMel) {
  ExecContext ctx;
  const auto x = sine(1000.0, 16000, 16000);
  const Tensor mel = ve_mel(ctx, x);
  ASSERT_EQ(mel.dim(0), 101);
  ASSERT_EQ(mel.dim(1), 40);
  // The 1 kHz band of a 40-band Slaney scale up to 8 kHz: mel 15 of max ~45.2 -> ~band 12.
  const int peak = argmax_row(mel.data<float>() + 50 * 40, 40);
  const double centre_hz = mel_to_hz_slaney(hz_to_mel_slaney(8000.0) * (peak + 1) / 41.0);
  EXPECT_NEAR(centre_hz, 1000.0, 120.0);
  EXPECT_THROW(ve_mel(ctx, std::vector<float>(200, 0.1f)), InvalidArgument);
  EXPECT_THROW(ve_mel(ctx, with_nan(x)), InvalidArgument);
}

TEST(Features, S3TokenizerLogMel) {
  ExecContext ctx;
  const Tensor silent = s3tokenizer_log_mel(ctx, std::vector<float>(16000, 0.0f));
  ASSERT_EQ(silent.dim(0), 128);
  ASSERT_EQ(silent.dim(1), 100);  // last frame dropped
  for (std::int64_t i = 0; i < silent.numel(); ++i) ASSERT_FLOAT_EQ(silent.data<float>()[i], -1.5f);
  const auto x = sine(500.0, 16000, 32000);
  const Tensor full = s3tokenizer_log_mel(ctx, x);
  const Tensor cut = s3tokenizer_log_mel(ctx, x, 128, 40);
  ASSERT_EQ(cut.dim(1), 40);
  float gmax = -1e30f;
  float gmin = 1e30f;
  for (std::int64_t i = 0; i < full.numel(); ++i) {
    gmax = std::max(gmax, full.data<float>()[i]);
    gmin = std::min(gmin, full.data<float>()[i]);
  }
  EXPECT_NEAR(gmin, gmax - 2.0f, 1e-5);  // floor at max - 8 in log10 units, / 4
  for (int m = 0; m < 128; ++m) {
    for (int t = 0; t < 40; ++t) {
      ASSERT_EQ(cut.data<float>()[m * 40 + t], full.data<float>()[m * 200 + t]);
    }
  }
  EXPECT_THROW(s3tokenizer_log_mel(ctx, with_nan(x)), InvalidArgument);
}

TEST(Features, KaldiFbank) {
  ExecContext ctx;
  const auto x = sine(700.0, 16000, 16000, 0.2);
  const Tensor fb = kaldi_fbank(ctx, x);
  ASSERT_EQ(fb.dim(0), 98);  // 1 + (16000 - 400) / 160
  ASSERT_EQ(fb.dim(1), 80);
  for (int b = 0; b < 80; ++b) {  // mean removed per bin
    double acc = 0.0;
    for (int t = 0; t < 98; ++t) acc += fb.data<float>()[t * 80 + b];
    EXPECT_NEAR(acc / 98, 0.0, 1e-4);
  }
  const Tensor raw = kaldi_fbank(ctx, x, 80, false);
  const int peak = argmax_row(raw.data<float>() + 40 * 80, 80);
  // Band centres are uniform on 1127 ln(1 + f/700) between 20 Hz and 8 kHz.
  const double lo = 1127.0 * std::log(1.0 + 20.0 / 700.0);
  const double hi = 1127.0 * std::log(1.0 + 8000.0 / 700.0);
  const double centre = 700.0 * (std::exp((lo + (peak + 1) * (hi - lo) / 81.0) / 1127.0) - 1.0);
  EXPECT_NEAR(centre, 700.0, 60.0);
  const Tensor silent = kaldi_fbank(ctx, std::vector<float>(4000, 0.0f), 80, false);
  for (std::int64_t i = 0; i < silent.numel(); ++i) {
    ASSERT_FLOAT_EQ(silent.data<float>()[i], std::log(std::numeric_limits<float>::epsilon()));
  }
  try {
    kaldi_fbank(ctx, std::vector<float>(399, 0.1f));
    ADD_FAILURE() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("400"), std::string::npos) << e.what();
  }
  EXPECT_THROW(kaldi_fbank(ctx, with_nan(x)), InvalidArgument);
}

TEST(Features, S3GenMel) {
  ExecContext ctx;
  const auto x = sine(2000.0, 24000, 24317, 0.3);
  const Tensor mel = s3gen_mel(ctx, x);
  ASSERT_EQ(mel.dim(0), 80);
  ASSERT_EQ(mel.dim(1), 50);  // L / 480
  const Tensor feat = s3gen_prompt_feat(ctx, x);
  ASSERT_EQ(feat.dim(0), 50);
  for (int m = 0; m < 80; ++m) {
    for (int t = 0; t < 50; ++t)
      ASSERT_EQ(feat.data<float>()[t * 80 + m], mel.data<float>()[m * 50 + t]);
  }
  // Silence: sqrt(1e-9) * filter mass, above the 1e-5 floor only where the filter mass is big.
  const Tensor silent = s3gen_mel(ctx, std::vector<float>(4800, 0.0f));
  for (std::int64_t i = 0; i < silent.numel(); ++i) {
    ASSERT_TRUE(std::isfinite(silent.data<float>()[i]));
    ASSERT_GE(silent.data<float>()[i], std::log(1e-5f) - 1e-6f);
  }
  EXPECT_THROW(s3gen_mel(ctx, std::vector<float>(720, 0.1f)), InvalidArgument);
  EXPECT_NO_THROW(s3gen_mel(ctx, std::vector<float>(721, 0.1f)));
  EXPECT_THROW(s3gen_mel(ctx, with_nan(x)), InvalidArgument);
}

TEST(Features, ThreadCountDoesNotChangeResults) {
  ThreadPool pool(4);
  ExecContext par;
  par.pool = &pool;
  ExecContext seq;
  const auto x = sine(333.0, 16000, 48000, 0.4);
  const Tensor a = kaldi_fbank(seq, x);
  const Tensor b = kaldi_fbank(par, x);
  ASSERT_EQ(a.numel(), b.numel());
  for (std::int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.data<float>()[i], b.data<float>()[i]);
  const Tensor c = s3tokenizer_log_mel(seq, x);
  const Tensor d = s3tokenizer_log_mel(par, x);
  for (std::int64_t i = 0; i < c.numel(); ++i) ASSERT_EQ(c.data<float>()[i], d.data<float>()[i]);
}

}  // namespace
}  // namespace chatterd::audio
