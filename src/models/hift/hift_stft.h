#pragma once
// HiFT's tiny STFT / iSTFT (n_fft 16, hop 4): a direct DFT with precomputed twiddles, faster
// than an FFT library at this size. Semantics of torch.stft / torch.istft with a periodic Hann
// window of n_fft samples, center=True, onesided: the forward pass reflect-pads n_fft/2 samples on
// both sides; the inverse overlap-adds the windowed frames, divides by the summed squared window
// and drops n_fft/2 samples at each end.

#include <cstdint>
#include <vector>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::hift {

class SmallStft {
 public:
  // n_fft even, > 0; 0 < hop <= n_fft. Throws InvalidArgument otherwise.
  SmallStft(std::int64_t n_fft, std::int64_t hop);

  std::int64_t n_fft() const { return n_fft_; }
  std::int64_t hop() const { return hop_; }
  std::int64_t bins() const { return n_fft_ / 2 + 1; }
  // Frames of a T-sample signal: T / hop + 1.
  std::int64_t frames(std::int64_t samples) const { return samples / hop_ + 1; }
  const std::vector<float>& window() const { return window_; }

  // x: f32 [T] (T > n_fft/2, for the reflect pad) -> out f32 [1, 2 * bins, frames]: rows
  // 0..bins-1 the real parts, then the imaginary parts (the reference's cat([real, imag])).
  void forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const;

  // real, imag: f32 [bins, frames] (any leading 1s) -> out f32 [1, hop * (frames - 1)].
  // The imaginary parts of the DC and Nyquist bins are ignored (C2R semantics).
  void inverse(const ExecContext& ctx, const Tensor& real, const Tensor& imag, Tensor& out) const;

 private:
  std::int64_t n_fft_;
  std::int64_t hop_;
  std::vector<float> window_;  // periodic Hann
  std::vector<double> cos_;    // cos(2 pi k n / N), [bins][n_fft]
  std::vector<double> sin_;    // sin(2 pi k n / N)
};

}  // namespace chatterd::hift
