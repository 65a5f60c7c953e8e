#pragma once
// Chunked HiFT (CosyVoice2-style, spec §6.3): each call vocodes the previous call's last
// `mel_cache_frames` mel frames + the new frames, overwrites the start of the excitation with the
// previous source tail (phase continuity), cross-fades the first cached samples with the held-back
// audio tail (the two halves of a Hamming window of twice that length) and holds back the last
// mel_cache_frames * 480 samples for the next call; the last call flushes everything. trim_fade
// applies to the first 960 samples of the stream only. Per-request state; the Hift is shared.

#include <cstdint>
#include <vector>

#include "chatterd/core/tensor.h"
#include "core/rng.h"
#include "models/hift/hift.h"
#include "ops/exec_context.h"

namespace chatterd::hift {

class HiftStream {
 public:
  // `model` must outlive the stream.
  explicit HiftStream(const Hift& model, std::int64_t mel_cache_frames = 8, bool trim_fade = true);

  // mel f32 [1, C, n] (n >= 0) -> the audio that is final now, f32 [1, m]. Non-final calls emit
  // 480 n samples once the cache is full (480 (n - mel_cache_frames) on the first call, or fewer
  // while the cache fills); the last call emits the rest. Throws InvalidArgument after `last`.
  Tensor push(const ExecContext& ctx, const Tensor& mel, Rng& rng, bool last);

  std::int64_t emitted_samples() const { return emitted_; }
  bool finished() const { return finished_; }

 private:
  const Hift& model_;
  std::int64_t mel_cache_frames_;
  bool trim_fade_;
  Tensor mel_cache_;                 // [1, C, <= mel_cache_frames]
  Tensor source_cache_;              // [1, 1, 480 x mel_cache_.dim(2)]
  std::vector<float> speech_cache_;  // the held-back audio tail (same length as source_cache_)
  std::int64_t emitted_ = 0;
  bool finished_ = false;
};

// numpy.hamming(n): 0.54 - 0.46 cos(2 pi i / (n - 1)), symmetric.
std::vector<float> hamming_window(std::int64_t n);

}  // namespace chatterd::hift
