#include "audio/resample.h"

#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>

#include "core/check.h"

namespace chatterd::audio {

namespace {

void check_rates(std::size_t n, int in_rate, int out_rate, const char* what) {
  CHATTERD_CHECK(in_rate > 0 && out_rate > 0, InvalidArgument,
                 "{}: rates must be positive, got {} -> {}", what, in_rate, out_rate);
  CHATTERD_CHECK(n > 0, InvalidArgument, "{}: empty signal (need at least 1 sample)", what);
}

}  // namespace

std::vector<float> resample_soxr(std::span<const float> signal, int in_rate, int out_rate) {
  check_rates(signal.size(), in_rate, out_rate, "resample_soxr");
  const std::size_t n_out = static_cast<std::size_t>(
      std::ceil(static_cast<double>(signal.size()) * (static_cast<double>(out_rate) / in_rate)));
  if (in_rate == out_rate) return {signal.begin(), signal.end()};
  // python-soxr's divide_proc: float32 in/out, soxr_quality_spec(SOXR_HQ, 0), default runtime,
  // input fed in chunks of 48000 * in / out frames, then a flush.
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  soxr_error_t err = nullptr;
  soxr_t soxr = soxr_create(in_rate, out_rate, 1, &err, &io, &quality, nullptr);
  CHATTERD_CHECK(err == nullptr && soxr != nullptr, Internal, "libsoxr: soxr_create failed: {}",
                 err != nullptr ? err : "unknown error");
  const auto olen =
      static_cast<std::size_t>(static_cast<double>(signal.size()) * out_rate / in_rate) + 1;
  const auto chunk = static_cast<std::size_t>(48000.0 * in_rate / out_rate);
  std::vector<float> y(olen, 0.0f);
  std::size_t out_pos = 0;
  std::size_t done = 0;
  for (std::size_t i = 0; i < signal.size() && err == nullptr; i += chunk) {
    err = soxr_process(soxr, signal.data() + i, std::min(chunk, signal.size() - i), nullptr,
                       y.data() + out_pos, olen - out_pos, &done);
    out_pos += done;
  }
  if (err == nullptr) {
    err = soxr_process(soxr, nullptr, 0, nullptr, y.data() + out_pos, olen - out_pos, &done);
    out_pos += done;
  }
  soxr_delete(soxr);
  CHATTERD_CHECK(err == nullptr, Internal, "libsoxr: soxr_process failed: {}", err);
  // librosa.util.fix_length: zero-pad or trim to ceil(L * ratio).
  y.resize(out_pos);
  y.resize(n_out, 0.0f);
  return y;
}

SincKernel torchaudio_sinc_kernel(int in_rate, int out_rate, const SincResampleOptions& o) {
  CHATTERD_CHECK(in_rate > 0 && out_rate > 0, InvalidArgument,
                 "resample_torchaudio: rates must be positive, got {} -> {}", in_rate, out_rate);
  CHATTERD_CHECK(o.lowpass_filter_width > 0 && o.rolloff > 0.0, InvalidArgument,
                 "resample_torchaudio: bad lowpass_filter_width {} / rolloff {}",
                 o.lowpass_filter_width, o.rolloff);
  const int g = std::gcd(in_rate, out_rate);
  SincKernel k;
  k.orig = in_rate / g;
  k.next = out_rate / g;
  const double base_freq = std::min(k.orig, k.next) * o.rolloff;
  const double lpw = o.lowpass_filter_width;
  k.width = static_cast<int>(std::ceil(lpw * k.orig / base_freq));
  const int taps = 2 * k.width + k.orig;
  const double scale = base_freq / k.orig;
  k.taps.resize(static_cast<std::size_t>(k.next) * static_cast<std::size_t>(taps));
  for (int j = 0; j < k.next; ++j) {
    // torch: arange(0, -new, -1) / new is a float32 tensor, idx is float64.
    const auto phase = static_cast<double>(static_cast<float>(-j) / static_cast<float>(k.next));
    for (int i = 0; i < taps; ++i) {
      const double idx = static_cast<double>(i - k.width) / k.orig;
      double t = (phase + idx) * base_freq;
      t = std::clamp(t, -lpw, lpw);
      const double c = std::cos(t * std::numbers::pi / lpw / 2.0);
      const double window = c * c;
      t *= std::numbers::pi;
      const double sinc = t == 0.0 ? 1.0 : std::sin(t) / t;
      k.taps[static_cast<std::size_t>(j) * static_cast<std::size_t>(taps) +
             static_cast<std::size_t>(i)] = static_cast<float>(sinc * (window * scale));
    }
  }
  return k;
}

std::vector<float> resample_torchaudio(std::span<const float> signal, int in_rate, int out_rate,
                                       const SincResampleOptions& options) {
  check_rates(signal.size(), in_rate, out_rate, "resample_torchaudio");
  if (in_rate == out_rate) return {signal.begin(), signal.end()};
  const SincKernel k = torchaudio_sinc_kernel(in_rate, out_rate, options);
  const std::size_t n = signal.size();
  const int taps = 2 * k.width + k.orig;
  // Zero pad width left and width + orig right, conv1d with stride orig, interleave the phases.
  std::vector<float> padded(n + static_cast<std::size_t>(2 * k.width + k.orig), 0.0f);
  std::copy(signal.begin(), signal.end(), padded.begin() + k.width);
  const std::size_t steps = n / static_cast<std::size_t>(k.orig) + 1;
  const auto target = static_cast<std::size_t>(
      std::ceil(static_cast<double>(k.next) * static_cast<double>(n) / k.orig));
  std::vector<float> out(target);
  for (std::size_t s = 0; s < steps; ++s) {
    const float* x = padded.data() + s * static_cast<std::size_t>(k.orig);
    for (int j = 0; j < k.next; ++j) {
      const std::size_t o = s * static_cast<std::size_t>(k.next) + static_cast<std::size_t>(j);
      if (o >= target) break;
      const float* w = k.taps.data() + static_cast<std::size_t>(j) * static_cast<std::size_t>(taps);
      float acc = 0.0f;
      for (int i = 0; i < taps; ++i) acc += w[i] * x[i];
      out[o] = acc;
    }
  }
  return out;
}

}  // namespace chatterd::audio
