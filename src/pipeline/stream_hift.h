#pragma once
// Chunked HiFT whose excitation continues one whole-utterance call exactly, so that a streamed
// run and a one-call run of the same mel use the same source (the pipeline's streaming vocoder).
//
// hift::HiftStream (CosyVoice-style) restarts SineGen's running phase and draws fresh noise at
// every call and patches the start with the previous source; the phase then jumps after the
// patch and the audio of a streamed run is uncorrelated with the one-call audio. Here instead:
//  - the SineGen draws are functions of ABSOLUTE position: the per-harmonic initial phases come
//    from Rng(seed) once per stream, the N(0, 1) draws of frame k from a counter-based generator
//    Rng(mix(seed, k)) (harmonic-major, samples_per_frame each);
//  - each call re-vocodes `context_frames` mel frames before its first new frame (left context;
//    their audio is dropped) and holds back the audio of its last `hold_frames` frames (no right
//    context yet), which the next call recomputes and cross-fades in (raised cosine, weights
//    summing to 1); the last call flushes. With both >= the vocoder's receptive-field radius the
//    pieces equal the one-call audio up to rounding;
//  - f0 is predicted per call, but the f0 of the context frames is the one the previous call
//    predicted for them (with full context), and the running phase at the first context frame is
//    carried from the earlier calls: one extra f0 frame is prepended whose value makes SineGen's
//    cumulative phase equal the carried phase (in cycles, mod 1; SineGen multiplies it by h + 1
//    per harmonic, which is what a continued cumsum gives), and its samples are dropped.
// trim_fade covers the stream's first 960 samples.
// A stream pushed once with last = true equals Hift::infer with the same draws + trim_fade.

#include <cstdint>
#include <vector>

#include "chatterd/core/tensor.h"
#include "models/hift/hift.h"
#include "ops/exec_context.h"

namespace chatterd {

class StreamHift {
 public:
  // `model` must outlive the stream.
  StreamHift(const hift::Hift& model, std::uint64_t seed, std::int64_t context_frames = 16,
             std::int64_t hold_frames = 16, bool trim_fade = true);

  // mel f32 [1, C, n] (the next n frames) -> the samples that are final now (appended to `out`).
  // Throws InvalidArgument after the last call.
  void push(const ExecContext& ctx, const Tensor& mel, bool last, std::vector<float>& out);

  std::int64_t frames_processed() const { return frames_processed_; }  // incl. re-vocoded ones
  std::int64_t emitted_samples() const { return emitted_; }
  bool finished() const { return finished_; }

 private:
  hift::HiftSourceNoise noise_for(std::int64_t start_frame, std::int64_t frames) const;

  const hift::Hift& model_;
  std::uint64_t seed_;
  std::int64_t context_frames_;
  std::int64_t hold_frames_;
  bool trim_fade_;
  Tensor phases_;                    // f32 [H+1], entry 0 = 0
  Tensor mel_tail_;                  // [1, C, <= context + hold]: mel frames [first_, received)
  std::vector<float> f0_tail_;       // f0 of the committed frames in mel_tail_
  std::vector<float> speech_cache_;  // held-back audio of the last hold frames
  std::int64_t first_ = 0;           // absolute frame of mel_tail_[0]
  std::int64_t committed_ = 0;       // frames whose audio is final
  double phase_cycles_ = 0.0;        // SineGen cumulative phase at first_, cycles mod 1
  std::int64_t frames_processed_ = 0;
  std::int64_t emitted_ = 0;
  bool finished_ = false;
};

// The counter-based generator of absolute position `index` in the stream `seed`.
std::uint64_t position_seed(std::uint64_t seed, std::int64_t index);

}  // namespace chatterd
