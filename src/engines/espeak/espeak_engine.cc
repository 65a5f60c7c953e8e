#include "engines/espeak/espeak_engine.h"

#include <chrono>
#include <optional>
#include <vector>

#include "core/check.h"
#include "core/stopwatch.h"
#include "engines/espeak/stream_resampler.h"
#include "text/utf8.h"

namespace chatterd::espeak {
namespace {

using Clock = std::chrono::steady_clock;

bool is_space(char32_t cp) {
  return cp == U' ' || (cp >= U'\t' && cp <= U'\r') || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

void reject_model_options(const SynthesisOptions& o) {
  const char* set = o.temperature          ? "temperature"
                    : o.top_k              ? "top_k"
                    : o.top_p              ? "top_p"
                    : o.min_p              ? "min_p"
                    : o.repetition_penalty ? "repetition_penalty"
                    : o.cfg_weight         ? "cfg_weight"
                    : o.exaggeration       ? "exaggeration"
                    : o.max_speech_tokens  ? "max_speech_tokens"
                                           : nullptr;
  CHATTERD_CHECK(set == nullptr, InvalidArgument,
                 "option '{}' applies to the Chatterbox models; the espeak engine has no such "
                 "control",
                 set);
}

// Turns espeak's native buffers into 24 kHz chunks. One resampled buffer is held back so that the
// final chunk (which gets soxr's flushed tail) can carry is_last; holding it costs the time espeak
// takes to make the next buffer (well under a millisecond), not its audio duration.
class ChunkEmitter {
 public:
  ChunkEmitter(int in_rate_hz, const ChunkCallback& on_chunk, SynthesisResult& result,
               Clock::time_point start)
      : resampler_(in_rate_hz, EspeakEngine::kSampleRateHz),
        on_chunk_(on_chunk),
        result_(result),
        start_(start) {}

  bool push(std::span<const std::int16_t> pcm) {
    if (first_pcm_ms_ < 0.0) first_pcm_ms_ = ms_since(start_);
    const std::size_t before = fresh_.size();
    const Clock::time_point t0 = Clock::now();
    resampler_.process(pcm, fresh_);
    resample_ms_ += ms_since(t0);
    if (fresh_.size() == before) return true;
    if (!pending_.empty() && !emit(pending_, false)) return false;
    pending_.swap(fresh_);
    fresh_.clear();
    return true;
  }

  // After espeak finished: the held-back buffer plus soxr's tail, marked last.
  void finish() {
    pending_.insert(pending_.end(), fresh_.begin(), fresh_.end());
    const Clock::time_point t0 = Clock::now();
    resampler_.flush(pending_);
    resample_ms_ += ms_since(t0);
    emit(pending_, true);
  }

  double first_audio_ms() const { return first_audio_ms_ >= 0.0 ? first_audio_ms_ : first_pcm_ms_; }
  double resample_ms() const { return resample_ms_; }

 private:
  bool emit(const std::vector<float>& samples, bool is_last) {
    if (first_audio_ms_ < 0.0) first_audio_ms_ = ms_since(start_);
    result_.samples.insert(result_.samples.end(), samples.begin(), samples.end());
    const AudioChunk chunk{.samples = samples,
                           .sample_rate_hz = EspeakEngine::kSampleRateHz,
                           .index = result_.stats.chunks,
                           .is_last = is_last};
    ++result_.stats.chunks;
    return on_chunk_ ? on_chunk_(chunk) : true;
  }

  StreamResampler resampler_;
  const ChunkCallback& on_chunk_;
  SynthesisResult& result_;
  Clock::time_point start_;
  std::vector<float> pending_;  // resampled, not yet delivered
  std::vector<float> fresh_;
  double first_pcm_ms_ = -1.0;
  double first_audio_ms_ = -1.0;
  double resample_ms_ = 0.0;
};

}  // namespace

void validate_espeak_text(std::string_view text) {
  text::validate_utf8(text, "text");
  std::size_t code_points = 0;
  bool has_content = false;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t at = pos;
    const char32_t cp = text::next_code_point(text, pos);
    // espeak reads a C string: an embedded NUL would silently cut the text short.
    CHATTERD_CHECK(cp != 0, InvalidArgument, "text contains a NUL character at byte offset {}", at);
    has_content = has_content || !is_space(cp);
    ++code_points;
  }
  CHATTERD_CHECK(has_content, InvalidArgument,
                 "text is empty{}: the espeak engine needs something to say",
                 text.empty() ? "" : " (whitespace only)");
  CHATTERD_CHECK(code_points <= EspeakEngine::kMaxTextCodePoints, InvalidArgument,
                 "text has {} characters; the espeak engine accepts at most {} per request",
                 code_points, EspeakEngine::kMaxTextCodePoints);
}

EspeakEngine::EspeakEngine(const EspeakEngineOptions& options)
    : runtime_(&EspeakRuntime::instance(options.data_dir)) {
  default_voice_ = runtime_->find_voice(options.voice);
  CHATTERD_CHECK(!default_voice_.empty(), InvalidArgument,
                 "unknown espeak voice '{}'; available: {}", options.voice,
                 describe_voices(runtime_->voices()));
  info_.name = "espeak-ng";
  info_.sample_rate_hz = kSampleRateHz;
  info_.voices = runtime_->voices();
}

std::string EspeakEngine::resolve_voice(const SynthesisRequest& request) const {
  if (!request.voice.empty()) return request.voice;
  if (!request.options.language.empty()) return request.options.language;
  return default_voice_;
}

SynthesisResult EspeakEngine::synthesize(const SynthesisRequest& request,
                                         const ChunkCallback& on_chunk) {
  const Clock::time_point start = Clock::now();
  validate_espeak_text(request.text);
  reject_model_options(request.options);

  SynthesisResult result;
  result.sample_rate_hz = kSampleRateHz;
  ChunkEmitter emitter(runtime_->sample_rate_hz(), on_chunk, result, start);
  const bool completed =
      runtime_->synthesize(resolve_voice(request), request.text,
                           [&](std::span<const std::int16_t> pcm) { return emitter.push(pcm); });
  if (completed) {
    emitter.finish();
  } else {
    result.cancelled = true;
  }

  SynthesisStats& stats = result.stats;
  stats.total_ms = ms_since(start);
  stats.time_to_first_audio_ms =
      emitter.first_audio_ms() >= 0.0 ? emitter.first_audio_ms() : stats.total_ms;
  stats.audio_seconds = static_cast<double>(result.samples.size()) / kSampleRateHz;
  stats.real_time_factor =
      stats.audio_seconds > 0.0 ? stats.total_ms / 1000.0 / stats.audio_seconds : 0.0;
  // "espeak": text analysis + wave generation, and the chunk callbacks, which run inside it.
  stats.stages = {{"espeak", stats.total_ms - emitter.resample_ms()},
                  {"resample", emitter.resample_ms()}};
  return result;
}

}  // namespace chatterd::espeak
