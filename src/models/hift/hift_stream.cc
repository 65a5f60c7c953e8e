#include "models/hift/hift_stream.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/check.h"
#include "ops/layout.h"

namespace chatterd::hift {

std::vector<float> hamming_window(std::int64_t n) {
  std::vector<float> w(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
  if (n == 1) w[0] = 1.0f;
  for (std::int64_t i = 0; n > 1 && i < n; ++i) {
    w[static_cast<std::size_t>(i)] =
        static_cast<float>(0.54 - 0.46 * std::cos(2.0 * std::numbers::pi * static_cast<double>(i) /
                                                  static_cast<double>(n - 1)));
  }
  return w;
}

HiftStream::HiftStream(const Hift& model, std::int64_t mel_cache_frames, bool trim_fade)
    : model_(model), mel_cache_frames_(mel_cache_frames), trim_fade_(trim_fade) {
  CHATTERD_CHECK(mel_cache_frames >= 0, InvalidArgument,
                 "HiftStream: mel_cache_frames {} must be >= 0", mel_cache_frames);
}

Tensor HiftStream::push(const ExecContext& ctx, const Tensor& mel, Rng& rng, bool last) {
  CHATTERD_CHECK(!finished_, InvalidArgument, "HiftStream: push after the last chunk");
  const std::int64_t channels = model_.config().in_channels;
  CHATTERD_CHECK(
      mel.dtype() == DType::F32 && mel.rank() == 3 && mel.dim(0) == 1 && mel.dim(1) == channels,
      ShapeError, "HiftStream: mel must be f32 [1, {}, frames], got {}", channels, mel.to_string());
  finished_ = last;
  const std::int64_t spf = model_.samples_per_frame();
  Tensor input;
  if (mel_cache_.defined() && mel_cache_.numel() > 0) {
    const Tensor parts[] = {mel_cache_, mel};
    ops::concat(ctx, parts, 2, input);
  } else {
    input = mel.clone();
  }
  const std::int64_t frames = input.dim(2);
  HiftOutput out =
      model_.infer(ctx, input, rng, source_cache_.defined() ? &source_cache_ : nullptr);
  float* wav = out.wav.data<float>();
  const std::int64_t samples = out.wav.numel();

  // Stream position of wav[0]: everything emitted so far minus the re-vocoded cached frames.
  const std::int64_t base = emitted_;
  if (trim_fade_ && base < 960) {
    const std::vector<float> w = trim_fade_window();
    for (std::int64_t i = 0; i < samples && base + i < 960; ++i) {
      wav[i] *= w[static_cast<std::size_t>(base + i)];
    }
  }
  // Cross-fade the re-vocoded start with the held-back tail of the previous call.
  const auto overlap = static_cast<std::int64_t>(speech_cache_.size());
  if (overlap > 0) {
    const std::vector<float> win = hamming_window(2 * overlap);
    for (std::int64_t i = 0; i < std::min(overlap, samples); ++i) {
      wav[i] =
          wav[i] * win[static_cast<std::size_t>(i)] +
          speech_cache_[static_cast<std::size_t>(i)] * win[static_cast<std::size_t>(overlap + i)];
    }
  }
  std::int64_t keep = 0;  // samples held back for the next call
  if (!last) {
    const std::int64_t cache_frames = std::min(mel_cache_frames_, frames);
    keep = cache_frames * spf;
    ops::slice(ctx, input, 2, frames - cache_frames, frames, mel_cache_);
    ops::slice(ctx, out.source, 2, samples - keep, samples, source_cache_);
    speech_cache_.assign(wav + samples - keep, wav + samples);
  } else {
    mel_cache_ = Tensor();
    source_cache_ = Tensor();
    speech_cache_.clear();
  }
  Tensor emit = Tensor::empty({1, samples - keep}, DType::F32);
  std::copy_n(wav, samples - keep, emit.data<float>());
  emitted_ += samples - keep;
  return emit;
}

}  // namespace chatterd::hift
