#pragma once
// JSON bodies of the synthesis endpoints -> SynthesisRequest, or the HTTP error to answer.
// Pure functions: no I/O, so every rule is unit-tested without a socket.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "chatterd/engine/tts_engine.h"
#include "serving/audio_encoding.h"

namespace chatterd::serving {

struct ApiError {
  int status = 400;
  std::string message;
};

struct SpeechCall {
  SynthesisRequest request;
  AudioFormat format = AudioFormat::Wav;
  bool stream = false;
  int priority = 0;  // /synthesize `priority` (kMinPriority..kMaxPriority): higher runs first
};

inline constexpr int kMinPriority = -100;
inline constexpr int kMaxPriority = 100;

struct RequestLimits {
  std::size_t max_text_chars = 5000;
  int default_chunk_tokens = 50;      // when the request names no chunk_size
  int default_max_speech_tokens = 0;  // when it names no max_speech_tokens (0: the model's)
  int max_speech_tokens_limit = 4096;
};

// POST /v1/audio/speech (OpenAI): input (required string), model (any string, ignored: the
// server has one model), voice (a name from engine.voices, else the engine's default voice),
// response_format ("wav" default, "pcm"), speed (number, ignored), stream (bool), and the
// extensions max_speech_tokens (1..limit), seed, chunk_size as for /synthesize.
std::variant<SpeechCall, ApiError> parse_openai_speech(std::string_view body,
                                                       const EngineInfo& engine,
                                                       const RequestLimits& limits);
// POST /synthesize: text (required), voice, streaming (bool), chunk_size (25..200 speech tokens),
// seed (unsigned integer), response_format ("wav"/"pcm"), max_speech_tokens (1..limit).
// priority (integer -100..100, default 0: among requests waiting at once, higher first),
// enable_batching (bool, default true; false: this request's T3 runs alone, not batched).
// The options every endpoint shares (chunk_size, seed, max_speech_tokens), defaults from `limits`
// applied; also used by the WebSocket stream. nullopt when fine.
std::optional<ApiError> parse_common_options(const nlohmann::json& j, const RequestLimits& limits,
                                             SynthesisOptions& out);

std::variant<SpeechCall, ApiError> parse_synthesize(std::string_view body, const EngineInfo& engine,
                                                    const RequestLimits& limits);

// Whether an Authorization header value is "Bearer <key>". Constant time in the header's
// content: every byte of the expected value is compared, whatever mismatches, so response timing
// does not tell a client how much of a guess was right (only the key's length is not hidden).
bool bearer_matches(std::string_view authorization, std::string_view key);

// The value of `key` in the query of `target` ("/p?a=1&b=x%20y"), percent-decoded; nullopt when
// absent or badly encoded.
std::optional<std::string> query_param(std::string_view target, std::string_view key);

}  // namespace chatterd::serving
