#include "pipeline/stream_hift.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/check.h"
#include "core/rng.h"
#include "ops/layout.h"

namespace chatterd {
namespace {

// The audio cross-fade at each join: short, at the start of the held-back frames, where both the
// previous call (right context = hold frames) and this one (left context) are accurate; deeper
// into the held frames the previous call's audio degrades (its right edge is near).
constexpr std::int64_t kXfadeFrames = 2;

}  // namespace

std::uint64_t position_seed(std::uint64_t seed, std::int64_t index) {
  // SplitMix64's finaliser over (seed, index): neighbouring positions get unrelated streams.
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (static_cast<std::uint64_t>(index) + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

StreamHift::StreamHift(const hift::Hift& model, std::uint64_t seed, std::int64_t context_frames,
                       std::int64_t hold_frames, bool trim_fade)
    : model_(model),
      seed_(seed),
      context_frames_(context_frames),
      hold_frames_(hold_frames),
      trim_fade_(trim_fade) {
  CHATTERD_CHECK(context_frames >= 0 && hold_frames >= 0, InvalidArgument,
                 "StreamHift: context_frames {} and hold_frames {} must be >= 0", context_frames,
                 hold_frames);
  // The reference's phase distribution: U(-pi, pi) per harmonic, the fundamental at 0.
  const std::int64_t nh = model_.harmonics();
  phases_ = Tensor::empty({nh}, DType::F32);
  Rng rng(seed);
  for (std::int64_t h = 0; h < nh; ++h) {
    const float u = rng.next_unit_float();
    phases_.data<float>()[h] =
        h == 0 ? 0.0f : static_cast<float>(std::numbers::pi * (2.0 * static_cast<double>(u) - 1.0));
  }
}

hift::HiftSourceNoise StreamHift::noise_for(std::int64_t start_frame, std::int64_t frames) const {
  const std::int64_t nh = model_.harmonics();
  const std::int64_t spf = model_.samples_per_frame();
  const std::int64_t t = (frames + 1) * spf;  // + the phase-setting prefix frame
  hift::HiftSourceNoise n;
  n.phase = phases_;
  n.randn = Tensor::zeros({nh, t}, DType::F32);
  float* r = n.randn.data<float>();
  for (std::int64_t k = 0; k < frames; ++k) {
    Rng rng(position_seed(seed_, start_frame + k));
    for (std::int64_t h = 0; h < nh; ++h) rng.fill_normal(r + h * t + (k + 1) * spf, spf);
  }
  return n;
}

void StreamHift::push(const ExecContext& ctx, const Tensor& mel, bool last,
                      std::vector<float>& out) {
  CHATTERD_CHECK(!finished_, InvalidArgument, "StreamHift: push after the last chunk");
  const std::int64_t channels = model_.config().in_channels;
  CHATTERD_CHECK(
      mel.dtype() == DType::F32 && mel.rank() == 3 && mel.dim(0) == 1 && mel.dim(1) == channels,
      ShapeError, "StreamHift: mel must be f32 [1, {}, frames], got {}", channels, mel.to_string());
  finished_ = last;
  Tensor input;
  if (mel_tail_.defined() && mel_tail_.numel() > 0) {
    const Tensor parts[] = {mel_tail_, mel};
    ops::concat(ctx, parts, 2, input);
  } else {
    input = mel;
  }
  const std::int64_t w0 = first_;
  const std::int64_t frames = input.dim(2);
  const std::int64_t received = w0 + frames;
  const std::int64_t c = committed_;
  const auto held = static_cast<std::int64_t>(speech_cache_.size());  // samples
  const std::int64_t spf = model_.samples_per_frame();
  // Too few new frames to commit any: keep them for the next call.
  if (!last && received - hold_frames_ < c + held / spf) {
    mel_tail_ = input;
    return;
  }
  if (frames == 0) return;
  const auto sr = static_cast<double>(model_.config().sampling_rate_hz);
  frames_processed_ += frames;

  Tensor f0;
  model_.predict_f0(ctx, input, f0);
  float* f = f0.data<float>();
  // The context frames keep the f0 predicted when they had context on both sides.
  std::copy(f0_tail_.begin(), f0_tail_.end(), f);
  // Prefix frame: spf samples at this f0 advance the fundamental by phase_cycles_ cycles.
  Tensor f0p = Tensor::empty({1, frames + 1}, DType::F32);
  f0p.data<float>()[0] = static_cast<float>(phase_cycles_ * sr / static_cast<double>(spf));
  std::copy_n(f, frames, f0p.data<float>() + 1);
  Tensor source_p, source, wav_t;
  model_.make_source(ctx, f0p, noise_for(w0, frames), source_p);
  ops::slice(ctx, source_p, 2, spf, (frames + 1) * spf, source);
  model_.decode(ctx, input, source, wav_t);
  float* wav = wav_t.data<float>();

  const std::int64_t base = w0 * spf;  // stream position of wav[0]
  if (trim_fade_ && base < 960) {
    const std::vector<float> w = hift::trim_fade_window();
    for (std::int64_t i = 0; i < frames * spf && base + i < 960; ++i) {
      wav[i] *= w[static_cast<std::size_t>(base + i)];
    }
  }
  float* fresh = wav + (c - w0) * spf;  // the audio from the first uncommitted frame on
  const std::int64_t xfade = std::min(held, kXfadeFrames * spf);
  for (std::int64_t i = 0; i < xfade; ++i) {
    const double a = 0.5 - 0.5 * std::cos(std::numbers::pi * (static_cast<double>(i) + 0.5) /
                                          static_cast<double>(xfade));
    const auto w_in = static_cast<float>(a);
    fresh[i] = fresh[i] * w_in + speech_cache_[static_cast<std::size_t>(i)] * (1.0f - w_in);
  }
  const std::int64_t commit_end = last ? received : received - hold_frames_;
  out.insert(out.end(), fresh, wav + (commit_end - w0) * spf);
  emitted_ += (commit_end - c) * spf;
  if (last) {
    mel_tail_ = Tensor();
    f0_tail_.clear();
    speech_cache_.clear();
    committed_ = received;
    return;
  }
  speech_cache_.assign(wav + (commit_end - w0) * spf, wav + frames * spf);
  // Carry the phase to the next call's first context frame.
  const std::int64_t next_first = std::max<std::int64_t>(w0, commit_end - context_frames_);
  double cycles = phase_cycles_;
  for (std::int64_t k = 0; k < next_first - w0; ++k) {
    cycles += static_cast<double>(f[k]) * static_cast<double>(spf) / sr;
  }
  phase_cycles_ = cycles - std::floor(cycles);
  f0_tail_.assign(f + (next_first - w0), f + (commit_end - w0));
  ops::slice(ctx, input, 2, next_first - w0, frames, mel_tail_);
  first_ = next_first;
  committed_ = commit_end;
}

}  // namespace chatterd
