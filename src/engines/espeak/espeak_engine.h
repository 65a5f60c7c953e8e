#pragma once
// The zero-download engine: espeak-ng behind the TtsEngine seam, so that `chatterd say` speaks
// out of the box and the serving stack can be exercised without model weights.
//
// Output: mono float at 24 kHz (espeak's 22.05 kHz resampled with soxr HQ), streamed as espeak
// produces it (buffers of <= 50 ms, plus a flush at each clause end). Not bit-reproducible:
// espeak-ng 1.51 carries state from one utterance into the next (the pitch flutter index is a
// function-static in wavegen.c, and voice/prosody state leaks too: English "Hello there." is
// ~6 % longer after a German utterance, even across espeak_ng_Terminate/Initialize), so a repeated
// request gives the same speech but not the same samples, and the length can move by a few %.
// No API resets it; the seed cannot either.
// Calls from several threads are safe; they are serialised on the process-wide espeak-ng lock
// (EspeakRuntime), including the ChunkCallback calls, so a slow callback delays other requests.

#include <cstddef>
#include <filesystem>
#include <string>

#include "chatterd/engine/tts_engine.h"
#include "engines/espeak/espeak_runtime.h"

namespace chatterd::espeak {

struct EspeakEngineOptions {
  std::string voice = "en";        // default voice: a language code from EngineInfo::voices
  std::filesystem::path data_dir;  // empty: the library's built-in espeak-ng-data path
};

class EspeakEngine final : public TtsEngine {
 public:
  static constexpr int kSampleRateHz = 24000;
  // Longer requests are refused rather than synthesised for minutes under the global lock.
  static constexpr std::size_t kMaxTextCodePoints = 100000;

  // Throws InvalidArgument for an unknown voice (listing some available ones) or a data directory
  // other than the one espeak-ng was initialised with; ModelFormatError when the data is missing.
  explicit EspeakEngine(const EspeakEngineOptions& options = {});

  const EngineInfo& info() const override { return info_; }

  // Voice: request.voice, else request.options.language, else the engine's default voice.
  // Throws InvalidArgument when the text is empty or whitespace only (espeak has no substitute
  // sentence, unlike the Chatterbox models, and silence is never what the caller meant), is not
  // valid UTF-8 or contains NUL (the message gives the byte offset), exceeds kMaxTextCodePoints,
  // or when an option only the Chatterbox models have (temperature, top_k, top_p, min_p,
  // repetition_penalty, cfg_weight, exaggeration, max_speech_tokens) is set. `seed` is accepted
  // and has no effect (espeak has no sampling); chunk_tokens does not apply.
  //
  // Streaming: every chunk holds >= 1 sample except possibly a lone last one for text espeak
  // speaks as silence; `index` counts from 0; the final chunk has is_last. Returning false from
  // `on_chunk` stops espeak at its next buffer: result.cancelled is set, no further chunk (and no
  // is_last) follows, and result.samples holds exactly the chunks delivered. Otherwise
  // result.samples is exactly the concatenation of all chunks.
  SynthesisResult synthesize(const SynthesisRequest& request,
                             const ChunkCallback& on_chunk = {}) override;

 private:
  std::string resolve_voice(const SynthesisRequest& request) const;

  EspeakRuntime* runtime_;
  std::string default_voice_;
  EngineInfo info_;
};

// The text checks synthesize() applies, exposed for tests and front-ends that validate early.
void validate_espeak_text(std::string_view text);

}  // namespace chatterd::espeak
