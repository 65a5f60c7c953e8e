#pragma once
// The two resamplers of the voice-cloning path (they give different 16 kHz signals; each consumer
// must get the one the reference gave it):
//  - resample_soxr: librosa.resample(res_type="soxr_hq") = python-soxr resample(quality="HQ") on
//    float32 through libsoxr, then librosa's fix_length to ceil(L * out / in).
//  - resample_torchaudio: torchaudio.transforms.Resample(in, out) (sinc_interp_hann, width 6,
//    rolloff 0.99), output length ceil(L * out / in).

#include <span>
#include <vector>

namespace chatterd::audio {

// Throws InvalidArgument on non-positive rates or an empty signal, Internal when libsoxr fails.
std::vector<float> resample_soxr(std::span<const float> signal, int in_rate, int out_rate);

struct SincResampleOptions {
  int lowpass_filter_width = 6;
  double rolloff = 0.99;
};

// The polyphase kernel torchaudio builds (`_get_sinc_resample_kernel`): new/g rows of
// 2 * width + orig/g taps (g = gcd), computed in double and rounded to float. Exposed for tests.
struct SincKernel {
  int orig = 0;             // in_rate / gcd
  int next = 0;             // out_rate / gcd
  int width = 0;            // taps of zero padding on the left
  std::vector<float> taps;  // (next, 2 * width + orig) row-major
};
SincKernel torchaudio_sinc_kernel(int in_rate, int out_rate,
                                  const SincResampleOptions& options = {});

std::vector<float> resample_torchaudio(std::span<const float> signal, int in_rate, int out_rate,
                                       const SincResampleOptions& options = {});

}  // namespace chatterd::audio
