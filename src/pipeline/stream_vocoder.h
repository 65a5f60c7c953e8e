#pragma once
// The per-request streaming vocoder: S3 speech tokens -> 24 kHz audio, a chunk of tokens at a
// time, as T3 produces them. The one-call (non-streamed) path is the same code with one window
// holding the whole prompt and every token.
//
// Per chunk of new tokens [a, b) the S3Gen flow runs on a WINDOW
//   [last P prompt tokens (2P prompt-mel frames)] + [C already emitted tokens] + [a, b)
//   + [the R >= L = pre_lookahead_len tokens after b (lookahead_tokens)]
// with encode(finalize = false) (the lookahead tokens' frames are dropped after the encoder:
// they still wait for their own lookahead), and finalize = true for the stream's last window,
// which ends with the silence tokens. The encoder and estimator attend over the whole window
// (no chunk masks), so a window only approximates the whole-utterance output; P and C trade
// fidelity for cost (the estimator is O(T) convs + O(T^2) attention in window frames, and a 10 s
// prompt is 500 frames: prompt truncation is the main lever).
//
// Of the window's output only mel frames [2a - O, 2b) are used: the first O are cross-faded
// (raised cosine) with the previous window's held-back last O frames, the last O are held back
// for the next window (the last window holds nothing back). The mel goes to StreamHift, which
// re-vocodes `hift_context_frames` frames of left context and holds back `hift_hold_frames`.
//
// Noise: the CFM's initial z is a function of ABSOLUTE frame position: frame k (speech frames
// 0, 1, ...; prompt frames -F1 .. -1 counted back from the speech, whatever P keeps) gets the
// mel_bins normals of Rng(position_seed(flow_seed, k)). Streamed and one-call runs of the same
// tokens and seeds therefore use the same noise everywhere. (Meanflow's reference draws z and
// the speech "noised" part separately; position noise replaces both.)

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "chatterd/core/tensor.h"
#include "models/hift/hift.h"
#include "models/s3gen/s3gen_flow.h"
#include "ops/exec_context.h"
#include "pipeline/stream_hift.h"

namespace chatterd {

struct StreamVocoderOptions {
  static constexpr std::int64_t kWholePrompt = -1;
  // P: prompt tokens kept per window (its last P tokens and 2P mel frames); kWholePrompt = all.
  std::int64_t prompt_tokens = 50;
  // C: already emitted tokens re-run as left context of each window.
  std::int64_t context_tokens = 12;
  // O: mel frames cross-faded between consecutive windows (0..2C).
  std::int64_t overlap_frames = 4;
  // R: tokens after a chunk that must exist before it is vocoded (right context). At least the
  // flow's pre_lookahead_len (3), whose frames encode(finalize = false) drops; the frames of
  // the others are solved and then discarded. Each extra token delays a chunk by one T3 step.
  std::int64_t lookahead_tokens = 3;
  // StreamHift: mel frames re-vocoded as left context, and frames whose audio is held back
  // (and cross-faded) until their right context has arrived.
  std::int64_t hift_context_frames = 12;
  std::int64_t hift_hold_frames = 16;
  void validate() const;  // InvalidArgument naming the bad value
};

// How a window's ODE solve runs: x [1, mel, T] = S3GenFlow::solve of the window. StreamVocoder
// solves alone by default; a VocoderBatcher's stream ticket batches it with other streams'.
class FlowSolver {
 public:
  virtual ~FlowSolver() = default;
  virtual Tensor solve(const ExecContext& ctx, const FlowEncoding& encoding, const Tensor& z) = 0;
};

// Work counters of one stream (the waste metric is flow_frames / emitted_frames).
struct StreamVocoderStats {
  std::int64_t flow_calls = 0;      // windows solved
  std::int64_t flow_frames = 0;     // mel frames through the flow (prompt + context + new + ...)
  std::int64_t emitted_frames = 0;  // speech mel frames handed to HiFT
  std::int64_t hift_frames = 0;     // mel frames through HiFT (incl. its re-vocoded cache)
  double flow_encoder_ms = 0.0;
  double flow_solver_ms = 0.0;  // noise + ODE solve
  double hift_ms = 0.0;
  // The largest resident set sampled at the end of each stage's segments (bench::resident_bytes).
  std::int64_t flow_encoder_peak_rss_bytes = 0;
  std::int64_t flow_solver_peak_rss_bytes = 0;
  std::int64_t hift_peak_rss_bytes = 0;
};

// The adaptive first chunk (SynthesisOptions::first_chunk_tokens = 0), decided as soon as
// lag + kFirstAudioTokens tokens exist, from
//   rho      = measured compute seconds per second of audio: this request's T3 decode time per
//              token so far + the engine's running mean of vocoder time per token, x 25 tokens/s;
//   expected = the speech tokens expected for the text chunk (text ids x 6, capped by the budget);
//   lag      = StreamVocoder::lag_tokens(): tokens of audio the vocoder holds back (the O mel
//              frames and HiFT's held frames), so a first chunk of f tokens plays f - lag.
// Producing the next chunk_tokens takes chunk_tokens x rho / 25 s, so f = lag +
// ceil(chunk_tokens x rho) is the smallest first chunk after which playback never waits. When
// rho >= 1 no first chunk avoids waiting and the first audio is made as early as possible.
// f is at least lag + kFirstAudioTokens (0.24 s of first audio), at most half the expected tokens
// when that is larger (a short text still gets its first audio half way), and always within
// [kMinFirstChunkTokens, chunk_tokens].
inline constexpr std::int64_t kMinFirstChunkTokens = 10;
inline constexpr std::int64_t kFirstAudioTokens = 6;
std::int64_t adaptive_first_chunk(std::int64_t chunk_tokens, std::int64_t expected_tokens,
                                  double rho, std::int64_t lag_tokens);

// The adaptive schedule's first TWO chunks. A smaller second chunk s2 lets the first chunk be
// smaller (f only has to cover s2's production, not chunk_tokens'): first audio comes earlier
// for one more vocoder window per request. With rho = t3_rho + vocoder_rho:
//   s2 = clamp(ceil(chunk_tokens x rho), ceil(chunk_tokens / 2), chunk_tokens), which keeps the
//        third chunk (chunk_tokens) from stalling: it is produced in chunk_tokens x rho <= s2
//        token-times, while s2 plays;
//   the second window costs more per token: a window also re-runs `window_overhead_tokens`
//   (prompt P + context C + lookahead R), so its vocoder share is scaled by
//   ((overhead + s2) / s2) / ((overhead + chunk) / chunk) (conservative: as if the whole
//   vocoder cost grew with the window);
//   f = lag + ceil(s2 x rho2), then the caps of adaptive_first_chunk.
// Falls back to {adaptive_first_chunk(...), chunk_tokens} when that first chunk is no larger
// (rho >= 1, a slow second window, a large overhead).
struct FirstChunks {
  std::int64_t first = 0;
  std::int64_t second = 0;
};
FirstChunks adaptive_first_chunks(std::int64_t chunk_tokens, std::int64_t expected_tokens,
                                  double t3_rho, double vocoder_rho, std::int64_t lag_tokens,
                                  std::int64_t window_overhead_tokens);

class StreamVocoder {
 public:
  // The models and `prompt` must outlive the vocoder.
  StreamVocoder(const S3GenFlow& flow, const hift::Hift& hift, const S3GenPrompt& prompt,
                const StreamVocoderOptions& options, std::uint64_t flow_seed,
                std::uint64_t hift_seed);

  // Appends speech tokens (S3 vocabulary ids; the caller filters and adds the silence tokens).
  void push_tokens(std::span<const std::int64_t> tokens);

  std::int64_t tokens() const { return static_cast<std::int64_t>(tokens_.size()); }
  // Tokens' worth of audio held back after each non-final chunk: ceil((O + HiFT hold) / 2).
  std::int64_t lag_tokens() const;
  // Tokens every window runs besides its new ones: kept prompt P + left context C + lookahead.
  std::int64_t window_overhead_tokens() const;
  std::int64_t done_tokens() const { return done_; }  // tokens whose frames are vocoded
  // Whether the next `n` tokens can be vocoded now (their lookahead tokens have arrived).
  bool ready(std::int64_t n) const;

  // Vocodes the next `n` tokens (ready(n) must hold): appends the audio that is final now.
  void vocode(const ExecContext& ctx, std::int64_t n, std::vector<float>& out);
  // Vocodes every remaining token as the last window and flushes HiFT.
  void finish(const ExecContext& ctx, std::vector<float>& out);

  bool finished() const { return finished_; }
  const StreamVocoderStats& stats() const { return stats_; }
  // Solves windows through `solver` (null: alone); it must outlive the vocoder's use of it.
  void set_solver(FlowSolver* solver) { solver_ = solver; }
  // Sees every mel piece handed to HiFT (f32 [1, mel, n], in order): fidelity measurements.
  void set_mel_tap(std::function<void(const Tensor&)> tap) { mel_tap_ = std::move(tap); }

 private:
  void run_window(const ExecContext& ctx, std::int64_t end, bool last, std::vector<float>& out);
  // z [1, mel, frames] for a window of `prompt_frames` prompt frames then speech frames from
  // absolute speech frame `first_speech_frame`.
  Tensor position_noise(std::int64_t prompt_frames, std::int64_t first_speech_frame,
                        std::int64_t frames) const;

  const S3GenFlow& flow_;
  S3GenPrompt prompt_;  // already truncated to P tokens
  StreamVocoderOptions options_;
  std::uint64_t flow_seed_;
  std::int64_t lookahead_;
  std::int64_t ratio_;
  StreamHift hift_;
  std::vector<std::int64_t> tokens_;
  std::int64_t done_ = 0;
  Tensor held_;  // [1, mel, O]: the previous window's last O frames, to cross-fade
  bool finished_ = false;
  StreamVocoderStats stats_;
  std::function<void(const Tensor&)> mel_tap_;
  FlowSolver* solver_ = nullptr;
};

}  // namespace chatterd
