#include "audio/mel_filters.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace chatterd::audio {

namespace {

constexpr double kFSp = 200.0 / 3.0;
constexpr double kMinLogHz = 1000.0;
constexpr double kMinLogMel = kMinLogHz / kFSp;

double log_step() {
  return std::log(6.4) / 27.0;
}

}  // namespace

double hz_to_mel_slaney(double hz) {
  if (hz >= kMinLogHz) return kMinLogMel + std::log(hz / kMinLogHz) / log_step();
  return hz / kFSp;
}

double mel_to_hz_slaney(double mel) {
  if (mel >= kMinLogMel) return kMinLogHz * std::exp(log_step() * (mel - kMinLogMel));
  return kFSp * mel;
}

std::vector<float> slaney_mel_filterbank(int sample_rate, int n_fft, int n_mels, double fmin,
                                         double fmax) {
  CHATTERD_CHECK(sample_rate > 0 && n_fft >= 2 && n_mels >= 1, InvalidArgument,
                 "slaney_mel_filterbank: bad sr={} n_fft={} n_mels={}", sample_rate, n_fft, n_mels);
  if (fmax <= 0.0) fmax = sample_rate / 2.0;
  CHATTERD_CHECK(fmin >= 0.0 && fmin < fmax, InvalidArgument,
                 "slaney_mel_filterbank: need 0 <= fmin < fmax, got {} and {}", fmin, fmax);
  const int bins = n_fft / 2 + 1;
  // np.fft.rfftfreq(n_fft, 1/sr): k * (1 / (n * d)).
  const double val = 1.0 / (n_fft * (1.0 / sample_rate));
  std::vector<double> fft_freqs(static_cast<std::size_t>(bins));
  for (int k = 0; k < bins; ++k) fft_freqs[static_cast<std::size_t>(k)] = k * val;
  // np.linspace(min_mel, max_mel, n_mels + 2) (i * step + start, last = stop), then mel_to_hz.
  const int n_pts = n_mels + 2;
  const double min_mel = hz_to_mel_slaney(fmin);
  const double max_mel = hz_to_mel_slaney(fmax);
  const double step = (max_mel - min_mel) / (n_pts - 1);
  std::vector<double> mel_f(static_cast<std::size_t>(n_pts));
  for (int i = 0; i < n_pts; ++i) {
    const double m = i == n_pts - 1 ? max_mel : i * step + min_mel;
    mel_f[static_cast<std::size_t>(i)] = mel_to_hz_slaney(m);
  }
  std::vector<float> weights(static_cast<std::size_t>(n_mels) * static_cast<std::size_t>(bins));
  for (int m = 0; m < n_mels; ++m) {
    const auto mi = static_cast<std::size_t>(m);
    const double fdiff_lo = mel_f[mi + 1] - mel_f[mi];
    const double fdiff_hi = mel_f[mi + 2] - mel_f[mi + 1];
    const double enorm = 2.0 / (mel_f[mi + 2] - mel_f[mi]);
    for (int k = 0; k < bins; ++k) {
      const double f = fft_freqs[static_cast<std::size_t>(k)];
      const double lower = -(mel_f[mi] - f) / fdiff_lo;
      const double upper = (mel_f[mi + 2] - f) / fdiff_hi;
      // librosa stores the triangle in a float32 array, then multiplies it in place by the
      // float64 norm: two roundings, reproduced here.
      const auto tri = static_cast<float>(std::max(0.0, std::min(lower, upper)));
      weights[mi * static_cast<std::size_t>(bins) + static_cast<std::size_t>(k)] =
          static_cast<float>(static_cast<double>(tri) * enorm);
    }
  }
  return weights;
}

std::vector<float> kaldi_mel_banks(int num_bins, int padded_window, double sample_rate,
                                   double low_freq, double high_freq) {
  CHATTERD_CHECK(num_bins > 3 && padded_window >= 2 && padded_window % 2 == 0, InvalidArgument,
                 "kaldi_mel_banks: need num_bins > 3 and an even padded window, got {} and {}",
                 num_bins, padded_window);
  const double nyquist = 0.5 * sample_rate;
  if (high_freq <= 0.0) high_freq += nyquist;
  CHATTERD_CHECK(low_freq >= 0.0 && low_freq < high_freq && high_freq <= nyquist, InvalidArgument,
                 "kaldi_mel_banks: bad band [{}, {}] for sample rate {}", low_freq, high_freq,
                 sample_rate);
  const int num_fft_bins = padded_window / 2;
  const double fft_bin_width = sample_rate / padded_window;
  // Scalars are python floats (double); tensor maths is float32 with the scalars cast to float.
  const double mel_low = 1127.0 * std::log(1.0 + low_freq / 700.0);
  const double mel_high = 1127.0 * std::log(1.0 + high_freq / 700.0);
  const double mel_delta = (mel_high - mel_low) / (num_bins + 1);
  const auto f_low = static_cast<float>(mel_low);
  const auto f_delta = static_cast<float>(mel_delta);
  const auto f_width = static_cast<float>(fft_bin_width);
  std::vector<float> mel(static_cast<std::size_t>(num_fft_bins));
  for (int k = 0; k < num_fft_bins; ++k) {
    const float freq = f_width * static_cast<float>(k);
    mel[static_cast<std::size_t>(k)] = 1127.0f * std::log(1.0f + freq / 700.0f);
  }
  const int cols = num_fft_bins + 1;
  std::vector<float> banks(static_cast<std::size_t>(num_bins) * static_cast<std::size_t>(cols),
                           0.0f);
  for (int b = 0; b < num_bins; ++b) {
    const float left = f_low + static_cast<float>(b) * f_delta;
    const float center = f_low + (static_cast<float>(b) + 1.0f) * f_delta;
    const float right = f_low + (static_cast<float>(b) + 2.0f) * f_delta;
    for (int k = 0; k < num_fft_bins; ++k) {
      const float m = mel[static_cast<std::size_t>(k)];
      const float up = (m - left) / (center - left);
      const float down = (right - m) / (right - center);
      banks[static_cast<std::size_t>(b) * static_cast<std::size_t>(cols) +
            static_cast<std::size_t>(k)] = std::max(0.0f, std::min(up, down));
    }
  }
  return banks;
}

}  // namespace chatterd::audio
