#pragma once
// Framing + windowed real FFT, the shared core of every mel front-end.
//
// Precision note: the FFT runs in float32 (FFTW). torch.stft does too (different summation order:
// differences ~1e-7 of the frame's energy); librosa computes the window product and FFT in float64
// and rounds to complex64, so against librosa we differ by float32 FFT rounding only.

#include <span>
#include <vector>

#include "ops/exec_context.h"

namespace chatterd::audio {

enum class PadMode {
  Reflect,  // numpy/torch "reflect": x[1], x[2], ... mirrored without repeating the edge
  Constant  // zeros
};

enum class SpectrumKind {
  Power,           // re^2 + im^2
  Magnitude,       // sqrt(re^2 + im^2)
  MagnitudeEps1e9  // sqrt(re^2 + im^2 + 1e-9) (S3Gen's mel)
};

struct StftOptions {
  int n_fft = 400;
  int hop = 160;
  bool center = true;  // pad n_fft/2 on both sides first (torch/librosa center=True)
  PadMode pad_mode = PadMode::Reflect;
  SpectrumKind kind = SpectrumKind::Power;
};

// Frames of `signal` that the options produce: 1 + (L' - n_fft) / hop, L' the padded length.
// Throws InvalidArgument (with the minimum length) when the signal is too short to frame or to
// reflect-pad.
int stft_num_frames(std::size_t signal_length, const StftOptions& options);

// Spectrum (frames, n_fft/2 + 1) row-major. `window` has n_fft values (shorter windows must be
// centred and zero-padded by the caller, like librosa.util.pad_center).
std::vector<float> stft_spectrum(const ExecContext& ctx, std::span<const float> signal,
                                 std::span<const float> window, const StftOptions& options);

// Pads `signal` by `left`/`right` samples with numpy/torch reflect semantics. Throws
// InvalidArgument when a pad is not shorter than the signal.
std::vector<float> reflect_pad(std::span<const float> signal, std::size_t left, std::size_t right);

// out (frames, n_mels) = spectrum (frames, bins) x filterbank(n_mels, bins)^T.
std::vector<float> apply_filterbank(const ExecContext& ctx, std::span<const float> spectrum,
                                    int frames, int bins, std::span<const float> filterbank,
                                    int n_mels);

}  // namespace chatterd::audio
