#pragma once
// HiFT's neural-source-filter excitation (SourceModuleHnNSF + SineGen): f0 per mel frame ->
// nearest upsampling to the sample rate -> H+1 harmonic sines with running phase, voiced /
// unvoiced noise -> Linear(H+1 -> 1) + tanh.

#include <cstdint>
#include <string_view>

#include "chatterd/core/tensor.h"
#include "core/rng.h"
#include "models/s3gen/s3gen_config.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd::hift {

// The random draws of one SineGen call, injectable so a test can replay the reference's.
struct HiftSourceNoise {
  Tensor phase;  // f32 [H+1] initial phase per harmonic (radians); entry 0 is treated as 0
  Tensor randn;  // f32 [H+1, T] standard normal draws (scaled by the voiced/unvoiced amplitude)

  // phase U(-pi, pi) (entry 0 = 0), randn N(0, 1): the reference's distributions, our generator.
  static HiftSourceNoise draw(Rng& rng, std::int64_t harmonics, std::int64_t samples);
};

class HiftSineSource {
 public:
  HiftSineSource() = default;
  // Reads "<prefix>m_source.l_linear.{weight,bias}" (prefix e.g. "mel2wav.").
  HiftSineSource(const WeightStore& store, std::string_view prefix, const HiftConfig& config);

  std::int64_t harmonics() const { return harmonics_; }  // H + 1 sines
  std::int64_t upsample() const { return upsample_; }    // samples per f0 frame

  // f0: f32 [1, F] (Hz) -> source f32 [1, 1, F * upsample()]. `noise` must have harmonics() rows
  // and F * upsample() samples. `sine_waves`, when given, receives the SineGen output
  // [1, H+1, F * upsample()] (sines x uv + noise, before the merge).
  void forward(const ExecContext& ctx, const Tensor& f0, const HiftSourceNoise& noise,
               Tensor& source, Tensor* sine_waves = nullptr) const;

 private:
  std::int64_t harmonics_ = 0;
  std::int64_t upsample_ = 0;
  float sampling_rate_ = 0.0f;
  float sine_amp_ = 0.0f;
  float noise_std_ = 0.0f;
  float voiced_threshold_ = 0.0f;
  Tensor merge_weight_;  // [1, H+1]
  Tensor merge_bias_;    // [1]
};

}  // namespace chatterd::hift
