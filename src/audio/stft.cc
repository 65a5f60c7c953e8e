#include "audio/stft.h"

#include <cmath>

#include "audio/fft.h"
#include "backends/cpu/blas.h"
#include "core/check.h"

namespace chatterd::audio {

std::vector<float> reflect_pad(std::span<const float> signal, std::size_t left, std::size_t right) {
  const std::size_t n = signal.size();
  CHATTERD_CHECK(left < n && right < n, InvalidArgument,
                 "reflect padding of {}/{} samples needs a signal of at least {} samples, got {}",
                 left, right, std::max(left, right) + 1, n);
  std::vector<float> out(n + left + right);
  for (std::size_t i = 0; i < left; ++i) out[i] = signal[left - i];
  std::copy(signal.begin(), signal.end(), out.begin() + static_cast<std::ptrdiff_t>(left));
  for (std::size_t i = 0; i < right; ++i) out[left + n + i] = signal[n - 2 - i];
  return out;
}

int stft_num_frames(std::size_t signal_length, const StftOptions& o) {
  CHATTERD_CHECK(o.n_fft >= 2 && o.hop >= 1, InvalidArgument, "stft: bad n_fft={} hop={}", o.n_fft,
                 o.hop);
  const auto n_fft = static_cast<std::size_t>(o.n_fft);
  std::size_t padded = signal_length;
  if (o.center) {
    const std::size_t half = n_fft / 2;
    if (o.pad_mode == PadMode::Reflect) {
      CHATTERD_CHECK(
          signal_length > half, InvalidArgument,
          "stft: centred reflect framing with n_fft {} needs at least {} samples, got {}", o.n_fft,
          half + 1, signal_length);
    }
    padded += 2 * half;
  }
  CHATTERD_CHECK(padded >= n_fft, InvalidArgument,
                 "stft: n_fft {} needs at least {} samples, got {}", o.n_fft, n_fft, signal_length);
  return static_cast<int>(1 + (padded - n_fft) / static_cast<std::size_t>(o.hop));
}

std::vector<float> stft_spectrum(const ExecContext& ctx, std::span<const float> signal,
                                 std::span<const float> window, const StftOptions& o) {
  CHATTERD_CHECK(window.size() == static_cast<std::size_t>(o.n_fft), InvalidArgument,
                 "stft: window has {} values, n_fft is {}", window.size(), o.n_fft);
  const int frames = stft_num_frames(signal.size(), o);
  std::vector<float> padded_storage;
  std::span<const float> x = signal;
  if (o.center) {
    const auto half = static_cast<std::size_t>(o.n_fft / 2);
    if (o.pad_mode == PadMode::Reflect) {
      padded_storage = reflect_pad(signal, half, half);
    } else {
      padded_storage.assign(signal.size() + 2 * half, 0.0f);
      std::copy(signal.begin(), signal.end(), padded_storage.begin() + static_cast<long>(half));
    }
    x = padded_storage;
  }
  const RealFft& fft = RealFft::get(o.n_fft);
  const int bins = fft.bins();
  std::vector<float> out(static_cast<std::size_t>(frames) * static_cast<std::size_t>(bins));
  ctx.parallel_for(frames, 16, [&](std::int64_t begin, std::int64_t end) {
    RealFft::Workspace ws(fft);
    auto in = ws.input();
    for (std::int64_t t = begin; t < end; ++t) {
      const float* frame = x.data() + t * o.hop;
      for (int i = 0; i < o.n_fft; ++i)
        in[static_cast<std::size_t>(i)] = frame[i] * window[static_cast<std::size_t>(i)];
      fft.forward(ws);
      const auto spec = ws.output();
      float* row = out.data() + t * bins;
      for (int k = 0; k < bins; ++k) {
        const float re = spec[static_cast<std::size_t>(k)].real();
        const float im = spec[static_cast<std::size_t>(k)].imag();
        const float p = re * re + im * im;
        switch (o.kind) {
          case SpectrumKind::Power:
            row[k] = p;
            break;
          case SpectrumKind::Magnitude:
            row[k] = std::sqrt(p);
            break;
          case SpectrumKind::MagnitudeEps1e9:
            row[k] = std::sqrt(p + 1e-9f);
            break;
        }
      }
    }
  });
  return out;
}

std::vector<float> apply_filterbank(const ExecContext& ctx, std::span<const float> spectrum,
                                    int frames, int bins, std::span<const float> filterbank,
                                    int n_mels) {
  CHATTERD_CHECK(
      spectrum.size() == static_cast<std::size_t>(frames) * static_cast<std::size_t>(bins) &&
          filterbank.size() == static_cast<std::size_t>(n_mels) * static_cast<std::size_t>(bins),
      InvalidArgument, "apply_filterbank: sizes {} / {} do not match {}x{} and {}x{}",
      spectrum.size(), filterbank.size(), frames, bins, n_mels, bins);
  std::vector<float> out(static_cast<std::size_t>(frames) * static_cast<std::size_t>(n_mels));
  // Row blocks of frames on the pool; each block is one GEMM against the transposed filterbank.
  ctx.parallel_for(frames, 64, [&](std::int64_t begin, std::int64_t end) {
    cpu::sgemm(false, true, end - begin, n_mels, bins, 1.0f, spectrum.data() + begin * bins, bins,
               filterbank.data(), bins, 0.0f, out.data() + begin * n_mels, n_mels);
  });
  return out;
}

}  // namespace chatterd::audio
