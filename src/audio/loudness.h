#pragma once
// Integrated loudness exactly as pyloudnorm.Meter(rate).integrated_loudness computes it (the
// reference's Turbo `norm_loudness`): BS.1770 K-weighting built from pyloudnorm's own biquad
// recipes (high shelf G=4 dB, Q=1/sqrt 2, fc=1500 Hz; high pass Q=0.5, fc=38 Hz; RBJ cookbook
// coefficients recomputed for the sample rate), 400 ms blocks with 75 % overlap, absolute gate
// -70 LUFS (>=), relative gate -10 LU (>), mono channel gain 1.
//
// pyloudnorm differs from libebur128 (which derives the ITU filters by bilinear transform and
// accumulates 100 ms sub-blocks): the golden numbers are pyloudnorm's, so this is a port, not a
// libebur128 call.

#include <span>
#include <vector>

namespace chatterd::audio {

// LUFS of a mono signal; -inf when no block passes the gates (silence). Throws InvalidArgument when
// the signal is shorter than one block (0.4 s) or holds non-finite samples.
double integrated_loudness(std::span<const float> mono, int sample_rate);

struct LoudnessNormalization {
  double lufs = 0.0;         // measured loudness (may be -inf)
  double gain_linear = 1.0;  // 10^((target - lufs) / 20)
  bool applied = false;  // false when the gain was not finite or positive, or the clip too short
};

// In place: wav = float32(wav * gain) to reach `target_lufs`, mirroring tts_turbo.norm_loudness,
// which skips the gain when it is not finite (silence) and when the meter raises (too short).
LoudnessNormalization normalize_loudness(std::vector<float>& wav, int sample_rate,
                                         double target_lufs = -27.0);

// The biquad pyloudnorm builds, normalised by a0: b = {b0,b1,b2}, a = {1,a1,a2}. Exposed for tests.
struct Biquad {
  double b[3];
  double a[3];
};
Biquad k_weighting_high_shelf(double sample_rate);
Biquad k_weighting_high_pass(double sample_rate);

}  // namespace chatterd::audio
