// Building blocks of the voice-cloning DSP on synthetic signals: FFT, windows, STFT framing,
// filterbanks, resamplers.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <thread>
#include <vector>

#include "audio/fft.h"
#include "audio/mel_filters.h"
#include "audio/resample.h"
#include "audio/stft.h"
#include "audio/window.h"
#include "chatterd/core/error.h"
#include "unit/models/audio_test_util.h"

namespace chatterd::audio {
namespace {

using test::sine;

TEST(RealFft, ImpulseIsFlat) {
  const RealFft& fft = RealFft::get(16);
  RealFft::Workspace ws(fft);
  std::fill(ws.input().begin(), ws.input().end(), 0.0f);
  ws.input()[0] = 1.0f;
  fft.forward(ws);
  ASSERT_EQ(ws.output().size(), 9u);
  for (const auto& v : ws.output()) {
    EXPECT_FLOAT_EQ(v.real(), 1.0f);
    EXPECT_FLOAT_EQ(v.imag(), 0.0f);
  }
}

TEST(RealFft, CosinePeakAndParseval) {
  const int n = 400;
  const RealFft& fft = RealFft::get(n);
  RealFft::Workspace ws(fft);
  double energy = 0.0;
  for (int i = 0; i < n; ++i) {
    const float v =
        static_cast<float>(std::cos(2.0 * std::numbers::pi * 7 * i / n) + 0.25 * std::sin(i * 0.9));
    ws.input()[static_cast<std::size_t>(i)] = v;
    energy += static_cast<double>(v) * v;
  }
  fft.forward(ws);
  const auto x = ws.output();
  std::size_t peak = 0;
  double spec_energy = 0.0;
  for (std::size_t k = 0; k < x.size(); ++k) {
    const double p = std::norm(std::complex<double>(x[k]));
    spec_energy += (k == 0 || k == x.size() - 1) ? p : 2.0 * p;
    if (std::abs(x[k]) > std::abs(x[peak])) peak = k;
  }
  EXPECT_EQ(peak, 7u);
  EXPECT_NEAR(spec_energy / n, energy, 1e-4 * energy);  // Parseval
}

TEST(RealFft, RejectsTinySizesAndSharesPlansAcrossThreads) {
  EXPECT_THROW(RealFft::get(1), InvalidArgument);
  EXPECT_EQ(&RealFft::get(512), &RealFft::get(512));
  std::vector<float> results(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&results, t] {
      const RealFft& fft = RealFft::get(1000 + 2 * (t % 2));  // two sizes planned concurrently
      RealFft::Workspace ws(fft);
      for (std::size_t i = 0; i < ws.input().size(); ++i) ws.input()[i] = static_cast<float>(i % 7);
      fft.forward(ws);
      results[static_cast<std::size_t>(t)] = ws.output()[3].real();
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 2; t < 8; ++t)
    EXPECT_EQ(results[static_cast<std::size_t>(t)], results[static_cast<std::size_t>(t % 2)]);
}

TEST(Window, TorchHannAndPovey) {
  const auto p = torch_hann_window(4, true);
  const std::vector<float> want_p{0.0f, 0.5f, 1.0f, 0.5f};
  for (int i = 0; i < 4; ++i)
    EXPECT_NEAR(p[static_cast<std::size_t>(i)], want_p[static_cast<std::size_t>(i)], 1e-7);
  const auto s = torch_hann_window(5, false);
  const std::vector<float> want_s{0.0f, 0.5f, 1.0f, 0.5f, 0.0f};
  for (int i = 0; i < 5; ++i)
    EXPECT_NEAR(s[static_cast<std::size_t>(i)], want_s[static_cast<std::size_t>(i)], 1e-7);
  const auto pov = povey_window(400);
  const auto hs = torch_hann_window(400, false);
  for (std::size_t i = 0; i < 400; ++i) EXPECT_FLOAT_EQ(pov[i], std::pow(hs[i], 0.85f));
  const auto lib = librosa_hann_window(400);
  const auto tor = torch_hann_window(400, true);
  // torch rounds the cosine argument to float: a few float ulps from the exact double window.
  for (std::size_t i = 0; i < 400; ++i) EXPECT_NEAR(lib[i], tor[i], 4e-7);
}

TEST(Stft, ReflectPadAndFrameCounts) {
  const std::vector<float> x{1, 2, 3, 4};
  const auto y = reflect_pad(x, 2, 3);
  EXPECT_EQ(y, (std::vector<float>{3, 2, 1, 2, 3, 4, 3, 2, 1}));
  EXPECT_THROW(reflect_pad(x, 4, 0), InvalidArgument);
  StftOptions o{400, 160, true, PadMode::Reflect, SpectrumKind::Power};
  EXPECT_EQ(stft_num_frames(16000, o), 101);
  EXPECT_EQ(stft_num_frames(201, o), 2);
  EXPECT_THROW(stft_num_frames(200, o), InvalidArgument);
  o.center = false;
  EXPECT_EQ(stft_num_frames(400, o), 1);
  EXPECT_EQ(stft_num_frames(16000, o), 98);
  EXPECT_THROW(stft_num_frames(399, o), InvalidArgument);
}

TEST(Stft, SineEnergyLandsInItsBin) {
  const int sr = 16000;
  const auto x = sine(1000.0, sr, 8000);  // bin 1000 / 40 = 25
  const auto w = torch_hann_window(400, true);
  const StftOptions o{400, 160, true, PadMode::Reflect, SpectrumKind::Magnitude};
  ExecContext ctx;
  const auto spec = stft_spectrum(ctx, x, w, o);
  const int bins = 201;
  const int frames = static_cast<int>(spec.size()) / bins;
  ASSERT_EQ(frames, 51);
  const float* row = spec.data() + 20 * bins;
  EXPECT_EQ(std::max_element(row, row + bins) - row, 25);
  // Hann-windowed amplitude: A * sum(w) / 2 = 0.5 * 200 / 2 = 50.
  EXPECT_NEAR(row[25], 50.0, 0.05);
}

TEST(MelFilters, SlaneyScaleAndAreaNormalisation) {
  EXPECT_DOUBLE_EQ(hz_to_mel_slaney(1000.0), 15.0);
  EXPECT_NEAR(hz_to_mel_slaney(500.0), 7.5, 1e-12);
  for (double hz : {10.0, 700.0, 1000.0, 3000.0, 7999.0}) {
    EXPECT_NEAR(mel_to_hz_slaney(hz_to_mel_slaney(hz)), hz, 1e-9 * hz);
  }
  const int n_fft = 1920;
  const int sr = 24000;
  const auto fb = slaney_mel_filterbank(sr, n_fft, 80, 0.0, 8000.0);
  const int bins = n_fft / 2 + 1;
  ASSERT_EQ(fb.size(), 80u * static_cast<std::size_t>(bins));
  const double bin_hz = static_cast<double>(sr) / n_fft;
  for (int m = 10; m < 80; ++m) {  // wide enough triangles for a Riemann sum
    double area = 0.0;
    for (int k = 0; k < bins; ++k) {
      const float v = fb[static_cast<std::size_t>(m * bins + k)];
      EXPECT_GE(v, 0.0f);
      area += v * bin_hz;
    }
    EXPECT_NEAR(area, 1.0, 0.02) << "mel " << m;
  }
  // Nothing above fmax.
  for (int m = 0; m < 80; ++m) {
    for (int k = static_cast<int>(8000.0 / bin_hz) + 1; k < bins; ++k)
      EXPECT_EQ(fb[static_cast<std::size_t>(m * bins + k)], 0.0f);
  }
  EXPECT_THROW(slaney_mel_filterbank(16000, 400, 0), InvalidArgument);
}

TEST(MelFilters, KaldiBanks) {
  const auto banks = kaldi_mel_banks(80, 512, 16000.0);
  const int cols = 257;
  ASSERT_EQ(banks.size(), 80u * cols);
  for (int b = 0; b < 80; ++b) {
    float peak = 0.0f;
    for (int k = 0; k < cols; ++k)
      peak = std::max(peak, banks[static_cast<std::size_t>(b * cols + k)]);
    EXPECT_LE(peak, 1.0f);
    EXPECT_GT(peak, 0.3f) << b;
    EXPECT_EQ(banks[static_cast<std::size_t>(b * cols + cols - 1)], 0.0f);  // padded column
    EXPECT_EQ(banks[static_cast<std::size_t>(b * cols)], 0.0f);             // 0 Hz is below 20 Hz
  }
  EXPECT_THROW(kaldi_mel_banks(3, 512, 16000.0), InvalidArgument);
}

TEST(Resample, TorchaudioLengthsAndKernel) {
  for (std::size_t n : {1u, 2u, 3u, 100u, 101u, 144000u}) {
    const std::vector<float> x(n, 0.25f);
    EXPECT_EQ(resample_torchaudio(x, 24000, 16000).size(), (2 * n + 2) / 3) << n;
  }
  const SincKernel k = torchaudio_sinc_kernel(24000, 16000);
  EXPECT_EQ(k.orig, 3);
  EXPECT_EQ(k.next, 2);
  EXPECT_EQ(k.width, 10);  // ceil(6 * 3 / 1.98)
  ASSERT_EQ(k.taps.size(), 2u * 23u);
  // Phase 0 is centred on tap `width`: its value is scale = 1.98 / 3.
  EXPECT_NEAR(k.taps[10], 0.66, 1e-7);
  EXPECT_THROW(resample_torchaudio(std::vector<float>{}, 24000, 16000), InvalidArgument);
}

void expect_sine_preserved(const std::vector<float>& y, double freq, int sr, double amp,
                           double tol) {
  // Compare against the ideal sine away from the edges (filter transients).
  double worst = 0.0;
  for (std::size_t i = 200; i + 200 < y.size(); ++i) {
    const double want = amp * std::sin(2.0 * std::numbers::pi * freq * static_cast<double>(i) / sr);
    worst = std::max(worst, std::abs(y[i] - want));
  }
  EXPECT_LT(worst, tol);
}

TEST(Resample, SinePreservedByBothResamplers) {
  const auto x = sine(440.0, 24000, 24000);
  const auto a = resample_torchaudio(x, 24000, 16000);
  ASSERT_EQ(a.size(), 16000u);
  expect_sine_preserved(a, 440.0, 16000, 0.5, 2e-3);
  const auto b = resample_soxr(x, 24000, 16000);
  ASSERT_EQ(b.size(), 16000u);
  expect_sine_preserved(b, 440.0, 16000, 0.5, 1e-3);
  EXPECT_EQ(resample_soxr(std::vector<float>(7, 0.1f), 24000, 16000).size(), 5u);  // ceil(14/3)
  EXPECT_THROW(resample_soxr(std::vector<float>{}, 24000, 16000), InvalidArgument);
  EXPECT_THROW(resample_soxr(x, 0, 16000), InvalidArgument);
}

TEST(Resample, AboveNyquistIsRemoved) {
  const auto x = sine(10000.0, 24000, 24000);  // above the 8 kHz output nyquist
  for (const auto& y : {resample_torchaudio(x, 24000, 16000), resample_soxr(x, 24000, 16000)}) {
    double peak = 0.0;
    for (std::size_t i = 200; i + 200 < y.size(); ++i)
      peak = std::max(peak, std::abs(static_cast<double>(y[i])));
    EXPECT_LT(peak, 0.01);
  }
}

}  // namespace
}  // namespace chatterd::audio
