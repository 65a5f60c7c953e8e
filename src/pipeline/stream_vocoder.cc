#include "pipeline/stream_vocoder.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>

#include "core/check.h"
#include "core/rng.h"
#include "core/stopwatch.h"
#include "ops/layout.h"
#include "pipeline/system_info.h"

namespace chatterd {
namespace {

using Clock = std::chrono::steady_clock;

// The last `keep` prompt tokens and their ratio x keep mel frames.
S3GenPrompt truncate_prompt(const S3GenPrompt& p, std::int64_t keep, std::int64_t ratio) {
  const ExecContext serial;
  const std::int64_t tp = p.tokens.numel();
  if (keep < 0 || keep >= tp) return p;
  S3GenPrompt out;
  out.embedding = p.embedding;
  const Tensor tokens = p.tokens.rank() == 1 ? p.tokens.reshape({1, tp}) : p.tokens;
  ops::slice(serial, tokens, 1, tp - keep, tp, out.tokens);
  const std::int64_t f1 = p.mel.rank() == 3 ? p.mel.dim(1) : 0;
  CHATTERD_CHECK(p.mel.rank() == 3 && f1 == ratio * tp, InvalidArgument,
                 "StreamVocoder: prompt mel {} does not hold {} x {} frames",
                 p.mel.shape().to_string(), ratio, tp);
  ops::slice(serial, p.mel, 1, f1 - ratio * keep, f1, out.mel);
  return out;
}

// A first chunk that covers `covered` tokens' production at `rho` (lag + ceil(covered x rho)),
// within the caps both adaptive rules share: at least lag + kFirstAudioTokens, at most half the
// expected tokens when that is larger, inside [kMinFirstChunkTokens, chunk_tokens].
std::int64_t capped_first_chunk(double covered, double rho, std::int64_t chunk_tokens,
                                std::int64_t expected_tokens, std::int64_t lag_tokens) {
  const std::int64_t least = lag_tokens + kFirstAudioTokens;
  std::int64_t f = least;
  if (rho >= 0.0 && rho < 1.0) f = lag_tokens + static_cast<std::int64_t>(std::ceil(covered * rho));
  f = std::max(least, std::min(f, expected_tokens / 2));
  return std::clamp(f, kMinFirstChunkTokens, std::max(chunk_tokens, kMinFirstChunkTokens));
}

}  // namespace

std::int64_t adaptive_first_chunk(std::int64_t chunk_tokens, std::int64_t expected_tokens,
                                  double rho, std::int64_t lag_tokens) {
  return capped_first_chunk(static_cast<double>(chunk_tokens), rho, chunk_tokens, expected_tokens,
                            lag_tokens);
}

FirstChunks adaptive_first_chunks(std::int64_t chunk_tokens, std::int64_t expected_tokens,
                                  double t3_rho, double vocoder_rho, std::int64_t lag_tokens,
                                  std::int64_t window_overhead_tokens) {
  const double rho = t3_rho + vocoder_rho;
  const FirstChunks plain{adaptive_first_chunk(chunk_tokens, expected_tokens, rho, lag_tokens),
                          chunk_tokens};
  if (!(t3_rho >= 0.0 && vocoder_rho >= 0.0 && rho < 1.0) || chunk_tokens < 2) return plain;
  const auto n = static_cast<double>(chunk_tokens);
  const std::int64_t s2 = std::clamp(static_cast<std::int64_t>(std::ceil(n * rho)),
                                     (chunk_tokens + 1) / 2, chunk_tokens);
  const auto o = static_cast<double>(std::max<std::int64_t>(window_overhead_tokens, 0));
  const auto s = static_cast<double>(s2);
  const double rho2 = t3_rho + vocoder_rho * ((o + s) / s) / ((o + n) / n);
  if (rho2 >= 1.0) return plain;
  const std::int64_t f = capped_first_chunk(s, rho2, chunk_tokens, expected_tokens, lag_tokens);
  if (f >= plain.first) return plain;
  return {f, s2};
}

void StreamVocoderOptions::validate() const {
  CHATTERD_CHECK(prompt_tokens >= 0 || prompt_tokens == kWholePrompt, InvalidArgument,
                 "stream vocoder: prompt_tokens must be >= 0 or {} (whole prompt), got {}",
                 kWholePrompt, prompt_tokens);
  CHATTERD_CHECK(context_tokens >= 0, InvalidArgument,
                 "stream vocoder: context_tokens must be >= 0, got {}", context_tokens);
  CHATTERD_CHECK(overlap_frames >= 0 && overlap_frames <= 2 * context_tokens, InvalidArgument,
                 "stream vocoder: overlap_frames {} must be in [0, 2 x context_tokens = {}] (the "
                 "cross-faded frames are recomputed from the left context)",
                 overlap_frames, 2 * context_tokens);
  CHATTERD_CHECK(lookahead_tokens >= 0, InvalidArgument,
                 "stream vocoder: lookahead_tokens must be >= 0, got {}", lookahead_tokens);
  CHATTERD_CHECK(hift_context_frames >= 0 && hift_hold_frames >= 0, InvalidArgument,
                 "stream vocoder: hift_context_frames {} and hift_hold_frames {} must be >= 0",
                 hift_context_frames, hift_hold_frames);
}

StreamVocoder::StreamVocoder(const S3GenFlow& flow, const hift::Hift& hift,
                             const S3GenPrompt& prompt, const StreamVocoderOptions& options,
                             std::uint64_t flow_seed, std::uint64_t hift_seed)
    : flow_(flow),
      options_(options),
      flow_seed_(flow_seed),
      lookahead_(std::max(options.lookahead_tokens, flow.config().encoder.pre_lookahead_len)),
      ratio_(flow.config().token_mel_ratio),
      hift_(hift, hift_seed, options.hift_context_frames, options.hift_hold_frames) {
  options_.validate();
  prompt_ = truncate_prompt(prompt, options_.prompt_tokens, ratio_);
}

void StreamVocoder::push_tokens(std::span<const std::int64_t> tokens) {
  CHATTERD_CHECK(!finished_, InvalidArgument, "StreamVocoder: tokens pushed after finish()");
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
}

std::int64_t StreamVocoder::lag_tokens() const {
  const std::int64_t frames = options_.overlap_frames + options_.hift_hold_frames;
  return (frames + ratio_ - 1) / ratio_;
}

std::int64_t StreamVocoder::window_overhead_tokens() const {
  return prompt_.tokens.numel() + options_.context_tokens + lookahead_;
}

bool StreamVocoder::ready(std::int64_t n) const {
  return !finished_ && n > 0 && done_ + n + lookahead_ <= tokens();
}

void StreamVocoder::vocode(const ExecContext& ctx, std::int64_t n, std::vector<float>& out) {
  CHATTERD_CHECK(ready(n), InvalidArgument,
                 "StreamVocoder: {} tokens from {} need {} lookahead tokens; {} pushed", n, done_,
                 lookahead_, tokens());
  run_window(ctx, done_ + n, false, out);
}

void StreamVocoder::finish(const ExecContext& ctx, std::vector<float>& out) {
  CHATTERD_CHECK(!finished_, InvalidArgument, "StreamVocoder: finish() called twice");
  CHATTERD_CHECK(done_ < tokens(), InvalidArgument,
                 "StreamVocoder: finish() with no token left to vocode ({} done)", done_);
  run_window(ctx, tokens(), true, out);
  finished_ = true;
}

Tensor StreamVocoder::position_noise(std::int64_t prompt_frames, std::int64_t first_speech_frame,
                                     std::int64_t frames) const {
  const std::int64_t mel = flow_.config().mel_bins;
  Tensor z = Tensor::empty({1, mel, frames}, DType::F32);
  float* p = z.data<float>();
  for (std::int64_t f = 0; f < frames; ++f) {
    // Prompt frames count back from the speech: -prompt_frames .. -1.
    const std::int64_t pos =
        f < prompt_frames ? f - prompt_frames : first_speech_frame + (f - prompt_frames);
    Rng rng(position_seed(flow_seed_, pos));
    for (std::int64_t c = 0; c < mel; ++c) p[c * frames + f] = rng.next_normal();
  }
  return z;
}

void StreamVocoder::run_window(const ExecContext& ctx, std::int64_t end, bool last,
                               std::vector<float>& out) {
  const std::int64_t a = done_;
  const std::int64_t s = std::max<std::int64_t>(0, a - options_.context_tokens);
  const std::int64_t stop = last ? end : end + lookahead_;
  const std::span<const std::int64_t> ids(tokens_.data() + s, static_cast<std::size_t>(stop - s));
  const Tensor token_tensor = Tensor::from_span<std::int64_t>(ids, {1, stop - s});

  auto t0 = Clock::now();
  const FlowEncoding enc = flow_.encode(ctx, token_tensor, prompt_, /*finalize=*/last);
  stats_.flow_encoder_ms += ms_since(t0);
  bench::raise_to_resident(stats_.flow_encoder_peak_rss_bytes);
  t0 = Clock::now();
  const std::int64_t frames = enc.mu.dim(2);
  const std::int64_t f1 = enc.prompt_frames;
  const Tensor z = position_noise(f1, ratio_ * s, frames);
  const Tensor x = solver_ != nullptr ? solver_->solve(ctx, enc, z)
                                      : flow_.solve(ctx, enc, z, flow_.config().n_cfm_timesteps);
  stats_.flow_solver_ms += ms_since(t0);
  bench::raise_to_resident(stats_.flow_solver_peak_rss_bytes);
  ++stats_.flow_calls;
  stats_.flow_frames += frames;
  const std::int64_t trimmed = last ? 0 : flow_.config().encoder.pre_lookahead_len;
  CHATTERD_CHECK(frames == f1 + ratio_ * (stop - trimmed - s), ShapeError,
                 "StreamVocoder: window of {} frames, expected {} + {} x {}", frames, f1, ratio_,
                 stop - trimmed - s);
  const std::int64_t used = f1 + ratio_ * (end - s);  // frames past it are right context only

  // Frames [ratio a - held, ratio end) of the speech, window-relative.
  const std::int64_t held = held_.defined() ? held_.dim(2) : 0;
  const std::int64_t from = f1 + ratio_ * (a - s) - held;
  CHATTERD_CHECK(from >= f1, InvalidArgument,
                 "StreamVocoder: {} overlap frames reach before the window's {} context tokens",
                 held, a - s);
  Tensor mel;
  ops::slice(ctx, x, 2, from, used, mel);
  const std::int64_t n = mel.dim(2);
  const std::int64_t bins = mel.dim(1);
  float* m = mel.data<float>();
  for (std::int64_t j = 0; j < held; ++j) {
    const double w = 0.5 - 0.5 * std::cos(std::numbers::pi * (static_cast<double>(j) + 0.5) /
                                          static_cast<double>(held));
    const auto w_new = static_cast<float>(w);
    const float* h = held_.data<float>();
    for (std::int64_t c = 0; c < bins; ++c) {
      m[c * n + j] = w_new * m[c * n + j] + (1.0f - w_new) * h[c * held + j];
    }
  }
  const std::int64_t hold = last ? 0 : std::min(options_.overlap_frames, n - held);
  Tensor emit;
  ops::slice(ctx, mel, 2, 0, n - hold, emit);
  if (hold > 0) {
    ops::slice(ctx, mel, 2, n - hold, n, held_);
  } else {
    held_ = Tensor();
  }
  stats_.emitted_frames += n - hold;
  done_ = end;

  if (mel_tap_) mel_tap_(emit);
  t0 = Clock::now();
  const std::int64_t before = hift_.frames_processed();
  hift_.push(ctx, emit, last, out);
  stats_.hift_frames += hift_.frames_processed() - before;
  stats_.hift_ms += ms_since(t0);
  bench::raise_to_resident(stats_.hift_peak_rss_bytes);
}

}  // namespace chatterd
