// torchaudio.compliance.kaldi.fbank with Kaldi defaults, as CAMPPlus's extract_feature calls it.
#include <algorithm>
#include <cmath>
#include <limits>

#include "audio/features.h"
#include "audio/fft.h"
#include "audio/mel_filters.h"
#include "audio/signal_checks.h"
#include "audio/stft.h"
#include "audio/window.h"
#include "core/check.h"

namespace chatterd::audio {

namespace {

constexpr int kSampleRate = 16000;
constexpr int kWindow = 400;  // 25 ms
constexpr int kShift = 160;   // 10 ms
constexpr int kPadded = 512;  // round_to_power_of_two
constexpr float kPreemph = 0.97f;

}  // namespace

Tensor kaldi_fbank(const ExecContext& ctx, std::span<const float> wav, int num_mel_bins,
                   bool subtract_mean) {
  CHATTERD_CHECK(num_mel_bins > 3, InvalidArgument, "kaldi_fbank: num_mel_bins must be > 3, got {}",
                 num_mel_bins);
  check_min_length(wav, kWindow, kSampleRate, "kaldi_fbank (one 25 ms frame, snip_edges)");
  check_finite(wav, "kaldi_fbank");
  const int frames = static_cast<int>(1 + (wav.size() - kWindow) / kShift);
  const RealFft& fft = RealFft::get(kPadded);
  const int bins = fft.bins();
  const std::vector<float> window = povey_window(kWindow);
  std::vector<float> power(static_cast<std::size_t>(frames) * static_cast<std::size_t>(bins));
  ctx.parallel_for(frames, 16, [&](std::int64_t begin, std::int64_t end) {
    RealFft::Workspace ws(fft);
    auto in = ws.input();
    float frame[kWindow];
    for (std::int64_t t = begin; t < end; ++t) {
      const float* x = wav.data() + t * kShift;
      double mean = 0.0;
      for (int i = 0; i < kWindow; ++i) mean += x[i];
      const auto m = static_cast<float>(mean / kWindow);
      for (int i = 0; i < kWindow; ++i) frame[i] = x[i] - m;
      // Pre-emphasis with the first sample replicated (torch pad mode "replicate").
      for (int i = kWindow - 1; i >= 1; --i) frame[i] -= kPreemph * frame[i - 1];
      frame[0] -= kPreemph * frame[0];
      for (int i = 0; i < kWindow; ++i)
        in[static_cast<std::size_t>(i)] = frame[i] * window[static_cast<std::size_t>(i)];
      std::fill(in.begin() + kWindow, in.end(), 0.0f);
      fft.forward(ws);
      const auto spec = ws.output();
      float* row = power.data() + t * bins;
      for (int k = 0; k < bins; ++k) {
        const float a = std::abs(spec[static_cast<std::size_t>(k)]);
        row[k] = a * a;
      }
    }
  });
  const std::vector<float> banks = kaldi_mel_banks(num_mel_bins, kPadded, kSampleRate);
  std::vector<float> mel = apply_filterbank(ctx, power, frames, bins, banks, num_mel_bins);
  const float eps = std::numeric_limits<float>::epsilon();
  for (float& v : mel) v = std::log(std::max(v, eps));
  if (subtract_mean) {
    for (int b = 0; b < num_mel_bins; ++b) {
      double acc = 0.0;
      for (int t = 0; t < frames; ++t)
        acc += mel[static_cast<std::size_t>(t) * static_cast<std::size_t>(num_mel_bins) +
                   static_cast<std::size_t>(b)];
      const auto mean = static_cast<float>(acc / frames);
      for (int t = 0; t < frames; ++t)
        mel[static_cast<std::size_t>(t) * static_cast<std::size_t>(num_mel_bins) +
            static_cast<std::size_t>(b)] -= mean;
    }
  }
  return Tensor::from_span<float>(mel, Shape({frames, num_mel_bins}));
}

}  // namespace chatterd::audio
