// Voice-cloning DSP against turbo-tiny/golden/cond_pipeline.safetensors, stage by stage: each stage
// is fed the golden output of the stage before it (so an error is pinned to one stage), then the
// whole chain runs from ref.wav alone. Metric: max |diff| / max |ref| (parity::ParityReport).
#include <ebur128.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "audio/features.h"
#include "audio/loudness.h"
#include "audio/resample.h"
#include "audio/trim.h"
#include "io/audio_file.h"
#include "parity/golden_f64.h"
#include "parity/parity.h"
#include "weights/safetensors.h"

namespace chatterd::audio {
namespace {

namespace fs = std::filesystem;

fs::path fixtures() {
  return CHATTERD_FIXTURES_DIR;
}
fs::path cond_golden() {
  return fixtures() / "turbo-tiny/golden/cond_pipeline.safetensors";
}

std::vector<float> as_vector(const Tensor& t) {
  return {t.data<float>(), t.data<float>() + t.numel()};
}

Tensor vec_tensor(const std::vector<float>& v) {
  return Tensor::from_span<float>(v, Shape({static_cast<std::int64_t>(v.size())}));
}

// (rows, cols) -> (cols, rows)
Tensor transpose2(const Tensor& t) {
  const auto r = t.dim(0);
  const auto c = t.dim(1);
  Tensor out = Tensor::empty(Shape({c, r}), DType::F32);
  for (std::int64_t i = 0; i < r; ++i) {
    for (std::int64_t j = 0; j < c; ++j) out.data<float>()[j * r + i] = t.data<float>()[i * c + j];
  }
  return out;
}

// Log-domain features: an f32 FFT's rounding error is ~1e-7 of the frame's largest bin, so a bin
// 60 dB down carries ~1e-4 relative error in power, which the log turns into an absolute error of
// the same size. torch's f32 FFT has that error too (different summation order), so low-energy
// bins cannot agree better than ~1e-4 relative to the feature's range (the project's f32
// tolerance), while bins within `span` (log units, <= 40 dB in power) of the maximum must agree
// to 1e-5. Both are checked.
constexpr double kLogFeatureTolerance = parity::kF32Tolerance;
constexpr double kLoudBinTolerance = 1e-5;

void expect_loud_bins_close(const Tensor& actual, const Tensor& expected, double span,
                            const char* name) {
  ASSERT_EQ(actual.numel(), expected.numel()) << name;
  const float* a = actual.data<float>();
  const float* e = expected.data<float>();
  float emax = -1e30f;
  float scale = 0.0f;
  for (std::int64_t i = 0; i < expected.numel(); ++i) {
    emax = std::max(emax, e[i]);
    scale = std::max(scale, std::abs(e[i]));
  }
  double worst = 0.0;
  std::int64_t count = 0;
  for (std::int64_t i = 0; i < expected.numel(); ++i) {
    if (e[i] < emax - span) continue;
    ++count;
    worst = std::max(worst, static_cast<double>(std::abs(a[i] - e[i])));
  }
  std::printf("  %-32s loud bins (%lld of %lld): rel %.3g\n", name, static_cast<long long>(count),
              static_cast<long long>(expected.numel()), worst / scale);
  EXPECT_GT(count, expected.numel() / 20) << name;
  EXPECT_LE(worst / scale, kLoudBinTolerance) << name;
}

class AudioFrontendGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = SafetensorsFile::open(cond_golden());
    const AudioData audio = read_audio(fixtures() / "golden/ref.wav");
    ASSERT_EQ(audio.sample_rate_hz, 24000);
    wav24_ = mix_to_mono(audio);
  }
  Tensor golden(const char* name) const { return file_->get(name); }
  void expect_pass(const parity::ParityCheck& c) const {
    EXPECT_TRUE(c.passed) << c.name << ": max|diff| " << c.max_abs_diff << " rel " << c.rel_error
                          << " tol " << c.tolerance << " " << c.note;
    std::printf("  %-32s rel %.3g (max|diff| %.3g, tol %.0e)\n", c.name.c_str(), c.rel_error,
                c.max_abs_diff, c.tolerance);
  }
  // float32(wav * golden gain): the normalised 24 kHz reference every later stage starts from.
  std::vector<float> normalised_with_golden_gain() const {
    const double gain = parity::read_f64_tensor(cond_golden(), "loudness/gain_linear").at(0);
    std::vector<float> out(wav24_);
    for (float& v : out) v = static_cast<float>(static_cast<double>(v) * gain);
    return out;
  }

  std::unique_ptr<SafetensorsFile> file_;
  std::vector<float> wav24_;
  ExecContext ctx_;
  parity::ParityReport report_{"cond_pipeline"};
};

TEST_F(AudioFrontendGolden, ReadAudioMatchesLibrosaLoad) {
  const auto ref = SafetensorsFile::open(fixtures() / "golden/ref_wav.safetensors");
  expect_pass(
      report_.compare("ref_wav_24k_float", vec_tensor(wav24_), ref->get("ref_wav_24k_float"), 0.0));
}

TEST_F(AudioFrontendGolden, LoudnessMatchesPyloudnorm) {
  const double lufs_ref = parity::read_f64_tensor(cond_golden(), "loudness/lufs").at(0);
  const double gain_ref = parity::read_f64_tensor(cond_golden(), "loudness/gain_linear").at(0);
  std::vector<float> wav(wav24_);
  const LoudnessNormalization r = normalize_loudness(wav, 24000, -27.0);
  std::printf("  lufs %.12f (ref %.12f), gain %.12f (ref %.12f)\n", r.lufs, lufs_ref, r.gain_linear,
              gain_ref);
  // pyloudnorm sums squares of float32 samples in float32 (pairwise); we sum in double. That
  // moves the block energies by ~1e-7 relative, i.e. ~1e-6 dB.
  EXPECT_NEAR(r.lufs, lufs_ref, 1e-5);
  EXPECT_NEAR(r.gain_linear / gain_ref, 1.0, 2e-6);
  EXPECT_TRUE(r.applied);
  // The normalised wav: float32(wav * gain) -- at most one float ulp from the golden gain's.
  const std::vector<float> expected = normalised_with_golden_gain();
  expect_pass(
      report_.compare("loudness/normalised_wav", vec_tensor(wav), vec_tensor(expected), 1e-6));
}

// Why integrated_loudness is a pyloudnorm port and not a libebur128 call: libebur128 uses the
// ITU filter (bilinear-transformed analog prototype) and its own block accounting, so it reads a
// different number on the same clip. Recorded here so the difference stays visible.
TEST_F(AudioFrontendGolden, Libebur128IsNotPyloudnorm) {
  const double lufs_ref = parity::read_f64_tensor(cond_golden(), "loudness/lufs").at(0);
  ebur128_state* st = ebur128_init(1, 24000, EBUR128_MODE_I);
  ASSERT_NE(st, nullptr);
  ASSERT_EQ(ebur128_add_frames_float(st, wav24_.data(), wav24_.size()), EBUR128_SUCCESS);
  double lufs = 0.0;
  ASSERT_EQ(ebur128_loudness_global(st, &lufs), EBUR128_SUCCESS);
  ebur128_destroy(&st);
  std::printf("  libebur128 %.6f LUFS vs pyloudnorm %.6f (diff %.4f dB)\n", lufs, lufs_ref,
              lufs - lufs_ref);
  EXPECT_NEAR(lufs, lufs_ref, 0.5);  // same standard, different filter/block details
}

TEST_F(AudioFrontendGolden, ResampleLibrosaSoxrHq) {
  const std::vector<float> out = resample_soxr(normalised_with_golden_gain(), 24000, 16000);
  const Tensor expected = golden("resample_librosa_16k");
  ASSERT_EQ(static_cast<std::int64_t>(out.size()), expected.numel());
  expect_pass(report_.compare("resample_librosa_16k", vec_tensor(out), expected, 1e-5));
}

TEST_F(AudioFrontendGolden, ResampleTorchaudioSinc) {
  std::vector<float> wav = normalised_with_golden_gain();
  if (wav.size() > 240000) wav.resize(240000);  // DEC_COND_LEN
  const std::vector<float> out = resample_torchaudio(wav, 24000, 16000);
  const Tensor expected = golden("resample_torchaudio_16k");
  ASSERT_EQ(static_cast<std::int64_t>(out.size()), expected.numel());
  expect_pass(report_.compare("resample_torchaudio_16k", vec_tensor(out), expected, 1e-6));
}

TEST_F(AudioFrontendGolden, VoiceEncoderTrimAndMel) {
  const std::vector<float> wav16 = as_vector(golden("resample_librosa_16k"));
  const TrimRange r = trim_silence(wav16, {});
  const Tensor idx = golden("ve/trim_index");
  ASSERT_EQ(idx.numel(), 2);
  EXPECT_EQ(r.start, idx.data<std::int64_t>()[0]);
  EXPECT_EQ(r.end, idx.data<std::int64_t>()[1]);
  const std::span<const float> trimmed(
      wav16.data() + idx.data<std::int64_t>()[0],
      static_cast<std::size_t>(idx.data<std::int64_t>()[1] - idx.data<std::int64_t>()[0]));
  const Tensor mel = ve_mel(ctx_, trimmed, 40);  // (T, 40)
  expect_pass(report_.compare("ve/mel", transpose2(mel), golden("ve/mel"), 1e-5));
}

TEST_F(AudioFrontendGolden, CampplusKaldiFbank) {
  const std::vector<float> wav16 = as_vector(golden("resample_torchaudio_16k"));
  const Tensor fbank = kaldi_fbank(ctx_, wav16, 80);
  const Tensor expected = golden("campplus/fbank");
  const Tensor actual = fbank.reshape({1, fbank.dim(0), fbank.dim(1)});
  expect_pass(report_.compare("campplus/fbank", actual, expected, kLogFeatureTolerance));
  expect_loud_bins_close(actual, expected, std::log(1e4), "campplus/fbank");
}

TEST_F(AudioFrontendGolden, S3TokenizerT3PromptLogMel) {
  std::vector<float> wav16 = as_vector(golden("resample_librosa_16k"));
  if (wav16.size() > 240000) wav16.resize(240000);  // ENC_COND_LEN (turbo: 15 s)
  const Tensor mel = s3tokenizer_log_mel(ctx_, wav16, 128, 375 * 4);
  const Tensor actual = mel.reshape({1, mel.dim(0), mel.dim(1)});
  const Tensor expected = golden("s3tok/t3_prompt/log_mel");
  expect_pass(report_.compare("s3tok/t3_prompt/log_mel", actual, expected, kLogFeatureTolerance));
  expect_loud_bins_close(actual, expected, 1.0, "s3tok/t3_prompt/log_mel");  // (log10 + 4) / 4
}

TEST_F(AudioFrontendGolden, S3GenPromptFeat) {
  std::vector<float> wav = normalised_with_golden_gain();
  if (wav.size() > 240000) wav.resize(240000);
  const Tensor feat = s3gen_prompt_feat(ctx_, wav, 80);
  const Tensor actual = feat.reshape({1, feat.dim(0), feat.dim(1)});
  const Tensor expected = golden("gen/prompt_feat");
  expect_pass(report_.compare("gen/prompt_feat", actual, expected, kLogFeatureTolerance));
  expect_loud_bins_close(actual, expected, std::log(1e2), "gen/prompt_feat");  // ln magnitude
}

// The whole DSP chain from ref.wav alone, each stage fed by our own previous stage.
TEST_F(AudioFrontendGolden, EndToEndChain) {
  ThreadPool pool(4);
  ExecContext ctx;
  ctx.pool = &pool;
  std::vector<float> wav(wav24_);
  ASSERT_TRUE(normalize_loudness(wav, 24000).applied);
  const std::vector<float> lib16 = resample_soxr(wav, 24000, 16000);
  std::vector<float> dec(wav.begin(), wav.begin() + std::min<std::size_t>(wav.size(), 240000));
  const std::vector<float> ta16 = resample_torchaudio(dec, 24000, 16000);
  const TrimRange r = trim_silence(lib16);
  const Tensor idx = golden("ve/trim_index");
  EXPECT_EQ(r.start, idx.data<std::int64_t>()[0]);
  EXPECT_EQ(r.end, idx.data<std::int64_t>()[1]);
  const Tensor ve =
      ve_mel(ctx, std::span<const float>(lib16).subspan(static_cast<std::size_t>(r.start),
                                                        static_cast<std::size_t>(r.end - r.start)));
  expect_pass(report_.compare("chain ve/mel", transpose2(ve), golden("ve/mel"), 1e-5));
  const Tensor fb = kaldi_fbank(ctx, ta16);
  expect_pass(report_.compare("chain campplus/fbank", fb.reshape({1, fb.dim(0), fb.dim(1)}),
                              golden("campplus/fbank"), kLogFeatureTolerance));
  std::vector<float> enc(lib16.begin(),
                         lib16.begin() + std::min<std::size_t>(lib16.size(), 240000));
  const Tensor lm = s3tokenizer_log_mel(ctx, enc, 128, 1500);
  expect_pass(report_.compare("chain s3tok/t3_prompt/log_mel",
                              lm.reshape({1, lm.dim(0), lm.dim(1)}),
                              golden("s3tok/t3_prompt/log_mel"), kLogFeatureTolerance));
  const Tensor pf = s3gen_prompt_feat(ctx, dec);
  expect_pass(report_.compare("chain gen/prompt_feat", pf.reshape({1, pf.dim(0), pf.dim(1)}),
                              golden("gen/prompt_feat"), kLogFeatureTolerance));
}

TEST(S3GenMelParity, GoldenPasses) {
  for (int threads : {1, 3}) {
    parity::ParityOptions o;
    o.n_threads = threads;
    const auto report = parity::run_parity(
        fixtures() / "turbo-tiny", fixtures() / "turbo-tiny/golden/s3gen_mel.safetensors", o);
    std::printf("%s", report.to_string().c_str());
    EXPECT_TRUE(report.passed()) << report.to_string();
  }
}

}  // namespace
}  // namespace chatterd::audio
