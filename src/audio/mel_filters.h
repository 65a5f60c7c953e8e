#pragma once
// Mel filterbanks. Both are row-major (n_mels, n_fft/2 + 1) float32 matrices.

#include <vector>

namespace chatterd::audio {

// librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm="slaney", dtype=float32):
// triangles on the Slaney mel scale (linear below 1 kHz, log above), area-normalised by
// 2 / (f[m+2] - f[m]). Computed in double like librosa and rounded to float at the same two points
// librosa does (the triangle, then the triangle times the norm), so the result is bit-identical
// up to libm ulps. fmax <= 0 means sr / 2.
std::vector<float> slaney_mel_filterbank(int sample_rate, int n_fft, int n_mels, double fmin = 0.0,
                                         double fmax = -1.0);

// torchaudio.compliance.kaldi.get_mel_banks (no VTLN) padded with one zero column, as fbank uses
// it: triangles on the HTK-style mel scale 1127 ln(1 + f/700) between low_freq and high_freq
// (high_freq <= 0 means nyquist + high_freq), evaluated in float32 like torch.
// Shape (num_bins, padded_window / 2 + 1).
std::vector<float> kaldi_mel_banks(int num_bins, int padded_window, double sample_rate,
                                   double low_freq = 20.0, double high_freq = 0.0);

// Slaney mel scale helpers (librosa.hz_to_mel / mel_to_hz with htk=False), exposed for tests.
double hz_to_mel_slaney(double hz);
double mel_to_hz_slaney(double mel);

}  // namespace chatterd::audio
