#pragma once
// Comparing two renderings of one utterance where their waveforms cannot be compared: streamed vs
// one-call Chatterbox audio. HiFT's SineGen integrates f0 into a running phase, so any mel
// difference (streamed windows see less context) shifts the phase of everything after it and the
// waveform SNR is ~0 dB even when both sound the same. The log-mel spectrogram drops the phase:
// it is S3Gen's own mel (s3gen_mel: 24 kHz, n_fft 1920, hop 480, 80 Slaney mels, ln floored at
// 1e-5), the domain the flow produces and the vocoder reads, so its SNR is comparable with the
// flow-mel bounds of stream_synthesis_test.cc. On the random-weight fixtures the vocoder's output
// spectrum barely follows its mel, so this domain's floor there is low (~4 dB, see
// StreamSynthesis.StreamedAudioMatchesOneCallAudioInTheLogMelDomain).

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "audio/features.h"
#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::testing_support {

// 10 log10(|ref|^2 / |ref - x|^2) over the common length (callers check lengths separately).
inline double snr_db(std::span<const float> ref, std::span<const float> x) {
  double sig = 0.0;
  double err = 0.0;
  for (std::size_t i = 0; i < std::min(ref.size(), x.size()); ++i) {
    sig += static_cast<double>(ref[i]) * ref[i];
    const double d = static_cast<double>(ref[i]) - x[i];
    err += d * d;
  }
  return 10.0 * std::log10(std::max(sig, 1e-30) / std::max(err, 1e-30));
}

// SNR of x's log-mel spectrogram against ref's (24 kHz mono waveforms in [-1, 1]), both centred
// on ref's mean log-mel level first: the log's offset (about -3.6 on turbo-tiny audio) would
// otherwise count as signal and inflate the figure (the same pair reads ~20 dB uncentred vs ~4 dB
// centred). The flow's own mel is centred near 0, so this is the same measure as its mel SNR.
inline double log_mel_snr_db(std::span<const float> ref, std::span<const float> x) {
  const ExecContext ctx;
  const Tensor a = audio::s3gen_mel(ctx, ref);
  const Tensor b = audio::s3gen_mel(ctx, x);
  const std::span<const float> va(a.data<float>(), static_cast<std::size_t>(a.numel()));
  const std::span<const float> vb(b.data<float>(), static_cast<std::size_t>(b.numel()));
  double mean = 0.0;
  for (const float v : va) mean += v;
  mean /= static_cast<double>(std::max<std::size_t>(va.size(), 1));
  std::vector<float> ca(va.size()), cb(vb.size());
  for (std::size_t i = 0; i < va.size(); ++i) ca[i] = static_cast<float>(va[i] - mean);
  for (std::size_t i = 0; i < vb.size(); ++i) cb[i] = static_cast<float>(vb[i] - mean);
  return snr_db(ca, cb);
}

}  // namespace chatterd::testing_support
