#include "audio/loudness.h"

#include <cmath>
#include <numbers>

#include "audio/signal_checks.h"
#include "core/check.h"

namespace chatterd::audio {

namespace {

constexpr double kBlockSeconds = 0.4;
constexpr double kAbsoluteGate = -70.0;

// scipy.signal.lfilter (direct form II transposed) in double; pyloudnorm stores each stage's
// output back into its float32 copy of the input, so the result is rounded to float per stage.
void lfilter_inplace(const Biquad& f, std::vector<float>& x) {
  double z1 = 0.0;
  double z2 = 0.0;
  for (float& v : x) {
    const double in = v;
    const double out = f.b[0] * in + z1;
    z1 = f.b[1] * in + z2 - f.a[1] * out;
    z2 = f.b[2] * in - f.a[2] * out;
    v = static_cast<float>(out);
  }
}

}  // namespace

Biquad k_weighting_high_shelf(double rate) {
  const double g = 4.0;
  const double q = 1.0 / std::sqrt(2.0);
  const double fc = 1500.0;
  const double a_ = std::pow(10.0, g / 40.0);
  const double w0 = 2.0 * std::numbers::pi * (fc / rate);
  const double alpha = std::sin(w0) / (2.0 * q);
  const double c = std::cos(w0);
  const double sa = std::sqrt(a_);
  const double b0 = a_ * ((a_ + 1) + (a_ - 1) * c + 2 * sa * alpha);
  const double b1 = -2 * a_ * ((a_ - 1) + (a_ + 1) * c);
  const double b2 = a_ * ((a_ + 1) + (a_ - 1) * c - 2 * sa * alpha);
  const double a0 = (a_ + 1) - (a_ - 1) * c + 2 * sa * alpha;
  const double a1 = 2 * ((a_ - 1) - (a_ + 1) * c);
  const double a2 = (a_ + 1) - (a_ - 1) * c - 2 * sa * alpha;
  return Biquad{{b0 / a0, b1 / a0, b2 / a0}, {a0 / a0, a1 / a0, a2 / a0}};
}

Biquad k_weighting_high_pass(double rate) {
  const double q = 0.5;
  const double fc = 38.0;
  const double w0 = 2.0 * std::numbers::pi * (fc / rate);
  const double alpha = std::sin(w0) / (2.0 * q);
  const double c = std::cos(w0);
  const double b0 = (1 + c) / 2;
  const double b1 = -(1 + c);
  const double b2 = (1 + c) / 2;
  const double a0 = 1 + alpha;
  const double a1 = -2 * c;
  const double a2 = 1 - alpha;
  return Biquad{{b0 / a0, b1 / a0, b2 / a0}, {a0 / a0, a1 / a0, a2 / a0}};
}

double integrated_loudness(std::span<const float> mono, int sample_rate) {
  CHATTERD_CHECK(sample_rate > 0, InvalidArgument, "integrated_loudness: bad sample rate {}",
                 sample_rate);
  const double rate = sample_rate;
  check_min_length(mono, static_cast<std::size_t>(std::ceil(kBlockSeconds * rate)), sample_rate,
                   "integrated_loudness (one 400 ms gating block)");
  check_finite(mono, "integrated_loudness");
  std::vector<float> x(mono.begin(), mono.end());
  lfilter_inplace(k_weighting_high_shelf(rate), x);
  lfilter_inplace(k_weighting_high_pass(rate), x);

  // Block bounds exactly as pyloudnorm computes them in double (int() truncation included).
  const double step = 1.0 - 0.75;
  const double seconds = static_cast<double>(x.size()) / rate;
  const auto num_blocks = static_cast<std::int64_t>(
                              std::nearbyint((seconds - kBlockSeconds) / (kBlockSeconds * step))) +
                          1;
  std::vector<double> z(static_cast<std::size_t>(std::max<std::int64_t>(num_blocks, 0)));
  for (std::int64_t j = 0; j < num_blocks; ++j) {
    const auto jd = static_cast<double>(j);
    const auto lo = static_cast<std::size_t>(kBlockSeconds * (jd * step) * rate);
    const auto hi =
        std::min(x.size(), static_cast<std::size_t>(kBlockSeconds * (jd * step + 1) * rate));
    double sum = 0.0;
    for (std::size_t i = lo; i < hi; ++i) sum += static_cast<double>(x[i]) * x[i];
    z[static_cast<std::size_t>(j)] = (1.0 / (kBlockSeconds * rate)) * sum;
  }
  const auto block_lufs = [](double zj) { return -0.691 + 10.0 * std::log10(zj); };
  double sum_abs = 0.0;
  std::size_t n_abs = 0;
  for (double zj : z) {
    if (block_lufs(zj) >= kAbsoluteGate) {
      sum_abs += zj;
      ++n_abs;
    }
  }
  if (n_abs == 0) return -std::numeric_limits<double>::infinity();
  const double relative_gate = block_lufs(sum_abs / static_cast<double>(n_abs)) - 10.0;
  double sum_rel = 0.0;
  std::size_t n_rel = 0;
  for (double zj : z) {
    const double l = block_lufs(zj);
    if (l > relative_gate && l > kAbsoluteGate) {
      sum_rel += zj;
      ++n_rel;
    }
  }
  if (n_rel == 0) return -std::numeric_limits<double>::infinity();
  return block_lufs(sum_rel / static_cast<double>(n_rel));
}

LoudnessNormalization normalize_loudness(std::vector<float>& wav, int sample_rate,
                                         double target_lufs) {
  LoudnessNormalization r;
  const double block = std::ceil(kBlockSeconds * sample_rate);
  if (sample_rate <= 0 || static_cast<double>(wav.size()) < block) {
    // pyloudnorm raises here and the reference catches it and keeps the wav unchanged.
    r.lufs = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
  r.lufs = integrated_loudness(wav, sample_rate);
  r.gain_linear = std::pow(10.0, (target_lufs - r.lufs) / 20.0);
  if (std::isfinite(r.gain_linear) && r.gain_linear > 0.0) {
    for (float& v : wav) v = static_cast<float>(static_cast<double>(v) * r.gain_linear);
    r.applied = true;
  }
  return r;
}

}  // namespace chatterd::audio
