#include "models/hift/hift_source.h"

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "core/check.h"

namespace chatterd::hift {

HiftSourceNoise HiftSourceNoise::draw(Rng& rng, std::int64_t harmonics, std::int64_t samples) {
  HiftSourceNoise n;
  n.phase = Tensor::empty({harmonics}, DType::F32);
  float* p = n.phase.data<float>();
  for (std::int64_t h = 0; h < harmonics; ++h) {
    const float u = rng.next_unit_float();
    p[h] =
        h == 0 ? 0.0f : static_cast<float>(std::numbers::pi * (2.0 * static_cast<double>(u) - 1.0));
  }
  n.randn = Tensor::empty({harmonics, samples}, DType::F32);
  rng.fill_normal(n.randn.data<float>(), n.randn.numel());
  return n;
}

HiftSineSource::HiftSineSource(const WeightStore& store, std::string_view prefix,
                               const HiftConfig& config)
    : harmonics_(config.nb_harmonics + 1),
      sampling_rate_(static_cast<float>(config.sampling_rate_hz)),
      sine_amp_(static_cast<float>(config.nsf_alpha)),
      noise_std_(static_cast<float>(config.nsf_sigma)),
      voiced_threshold_(static_cast<float>(config.nsf_voiced_threshold)) {
  upsample_ = config.istft_hop;
  for (std::int64_t r : config.upsample_rates) upsample_ *= r;
  const std::string p = std::string(prefix) + "m_source.l_linear";
  merge_weight_ = store.get_f32(p + ".weight", {1, harmonics_});
  merge_bias_ = store.get_f32(p + ".bias", {1});
}

void HiftSineSource::forward(const ExecContext& ctx, const Tensor& f0, const HiftSourceNoise& noise,
                             Tensor& source, Tensor* sine_waves) const {
  CHATTERD_CHECK(f0.dtype() == DType::F32 && f0.rank() == 2 && f0.dim(0) == 1, ShapeError,
                 "HiftSineSource: f0 must be f32 [1, F], got {}", f0.to_string());
  const std::int64_t frames = f0.dim(1);
  const std::int64_t t = frames * upsample_;
  const std::int64_t nh = harmonics_;
  CHATTERD_CHECK(noise.phase.dtype() == DType::F32 && noise.phase.numel() == nh, ShapeError,
                 "HiftSineSource: phase {} must hold {} values", noise.phase.to_string(), nh);
  CHATTERD_CHECK(noise.randn.dtype() == DType::F32 && noise.randn.numel() == nh * t &&
                     noise.randn.dim(-1) == t,
                 ShapeError, "HiftSineSource: randn {} must be [{}, {}]", noise.randn.to_string(),
                 nh, t);
  Tensor local;
  Tensor& waves = sine_waves != nullptr ? *sine_waves : local;
  waves.resize({1, nh, t}, DType::F32);
  source.resize({1, 1, t}, DType::F32);
  if (t == 0) return;

  // nn.Upsample(scale_factor=u, mode="nearest") computes the source index in f32 as
  // floor(n * float(1/u)); it differs from n / u only past ~10M samples, kept for parity.
  const float inv_up = static_cast<float>(1.0 / static_cast<double>(upsample_));
  const float* f0p = f0.data<float>();
  auto f0_at = [&](std::int64_t n) {
    const auto i = static_cast<std::int64_t>(std::floor(static_cast<float>(n) * inv_up));
    return f0p[std::min(i, frames - 1)];
  };
  const float two_pi = static_cast<float>(2.0 * std::numbers::pi);
  const float unvoiced_amp = sine_amp_ / 3.0f;
  const float* phase = noise.phase.data<float>();
  const float* randn = noise.randn.data<float>();
  float* wp = waves.data<float>();

  // One task per harmonic: the running phase is a sequential sum.
  ctx.parallel_for(nh, 1, [&](std::int64_t h0, std::int64_t h1) {
    for (std::int64_t h = h0; h < h1; ++h) {
      const float mult = static_cast<float>(h + 1);
      const float ph = h == 0 ? 0.0f : phase[h];
      const float* rn = randn + h * t;
      float* out = wp + h * t;
      // torch's CPU cumsum of f32 accumulates in f64 and rounds each partial sum to f32; an f32
      // running sum drifts ~1e-3 cycles over a few seconds.
      double acc = 0.0;
      for (std::int64_t n = 0; n < t; ++n) {
        const float f = f0_at(n);
        acc += static_cast<double>(f * mult / sampling_rate_);
        const float cum = static_cast<float>(acc);
        const float theta = two_pi * (cum - std::floor(cum));
        const float sine = sine_amp_ * std::sin(theta + ph);
        const bool voiced = f > voiced_threshold_;
        const float amp = voiced ? noise_std_ : unvoiced_amp;
        out[n] = (voiced ? sine : 0.0f) + amp * rn[n];
      }
    }
  });

  const float* w = merge_weight_.data<float>();
  const float b = merge_bias_.data<float>()[0];
  float* sp = source.data<float>();
  ctx.parallel_for(t, 4096, [&](std::int64_t n0, std::int64_t n1) {
    for (std::int64_t n = n0; n < n1; ++n) {
      float acc = 0.0f;
      for (std::int64_t h = 0; h < nh; ++h) acc += w[h] * wp[h * t + n];
      sp[n] = std::tanh(acc + b);
    }
  });
}

}  // namespace chatterd::hift
