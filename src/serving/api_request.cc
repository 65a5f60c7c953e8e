#include "serving/api_request.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "text/utf8.h"

namespace chatterd::serving {
namespace {

using nlohmann::json;

// Parses `body` as one JSON object; errors name the problem (nlohmann's message has the offset).
std::variant<json, ApiError> parse_object(std::string_view body) {
  const std::size_t bad = text::find_invalid_utf8(body);
  if (bad != std::string_view::npos) {
    return ApiError{400, fmt::format("request body is not valid UTF-8 (byte offset {})", bad)};
  }
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    return ApiError{400, fmt::format("malformed JSON: {}", e.what())};
  }
  if (!j.is_object()) {
    return ApiError{400, fmt::format("request body must be a JSON object, got {}", j.type_name())};
  }
  return j;
}

std::optional<ApiError> wrong_type(const json& j, const char* key, const char* expected) {
  return ApiError{
      400, fmt::format("field '{}' must be {}, got {}", key, expected, j.at(key).type_name())};
}

std::optional<ApiError> get_string(const json& j, const char* key, std::string& out) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  if (!j.at(key).is_string()) return wrong_type(j, key, "a string");
  out = j.at(key).get<std::string>();
  return std::nullopt;
}

std::optional<ApiError> get_bool(const json& j, const char* key, bool& out) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  if (!j.at(key).is_boolean()) return wrong_type(j, key, "a boolean");
  out = j.at(key).get<bool>();
  return std::nullopt;
}

// An optional integer field within [lo, hi]; `unit` follows the range in the message.
std::optional<ApiError> get_int_in_range(const json& j, const char* key, std::int64_t lo,
                                         std::int64_t hi, const char* unit, int& out) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  const json& f = j.at(key);
  if (!f.is_number_integer()) return wrong_type(j, key, "an integer");
  const auto v = f.get<std::int64_t>();
  if (v < lo || v > hi) {
    return ApiError{400, fmt::format("{} must be in {}..{}{}, got {}", key, lo, hi, unit, v)};
  }
  out = static_cast<int>(v);
  return std::nullopt;
}

std::optional<ApiError> check_number(const json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null() || j.at(key).is_number()) return std::nullopt;
  return wrong_type(j, key, "a number");
}

std::optional<ApiError> get_text(const json& j, const char* key, const RequestLimits& limits,
                                 std::string& out) {
  if (!j.contains(key)) return ApiError{400, fmt::format("missing required field '{}'", key)};
  if (!j.at(key).is_string()) return wrong_type(j, key, "a string");
  out = j.at(key).get<std::string>();
  if (std::all_of(out.begin(), out.end(),
                  [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; })) {
    return ApiError{400, fmt::format("field '{}' is empty", key)};
  }
  // Code points: UTF-8 continuation bytes are 10xxxxxx.
  const auto chars = static_cast<std::size_t>(std::count_if(out.begin(), out.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
  if (chars > limits.max_text_chars) {
    return ApiError{413, fmt::format("field '{}' has {} characters; the limit is {}", key, chars,
                                     limits.max_text_chars)};
  }
  return std::nullopt;
}

std::optional<ApiError> get_format(const json& j, AudioFormat& out) {
  std::string f = "wav";
  if (auto e = get_string(j, "response_format", f)) return e;
  const std::optional<AudioFormat> format = parse_audio_format(f);
  if (!format) {
    return ApiError{400, fmt::format("response_format '{}' is not supported; supported: {}", f,
                                     audio_format_names())};
  }
  out = *format;
  return std::nullopt;
}

// Unknown or "default" voices take the engine's default (documented in docs/api.md): OpenAI
// clients send names such as "alloy" that no local engine has.
std::string resolve_voice(const std::string& voice, const EngineInfo& engine) {
  const bool known =
      std::find(engine.voices.begin(), engine.voices.end(), voice) != engine.voices.end();
  return known ? voice : std::string();
}

}  // namespace

std::optional<ApiError> parse_common_options(const json& j, const RequestLimits& limits,
                                             SynthesisOptions& out) {
  out.chunk_tokens = limits.default_chunk_tokens;
  if (limits.default_max_speech_tokens > 0)
    out.max_speech_tokens = limits.default_max_speech_tokens;
  if (auto e = get_int_in_range(j, "chunk_size", 25, 200, " speech tokens", out.chunk_tokens)) {
    return e;
  }
  if (j.contains("first_chunk_size") && !j.at("first_chunk_size").is_null()) {
    const json& c = j.at("first_chunk_size");
    if (!c.is_number_integer()) return wrong_type(j, "first_chunk_size", "an integer");
    const auto v = c.get<std::int64_t>();
    if (v != 0 && (v < 10 || v > out.chunk_tokens)) {
      return ApiError{400, fmt::format("first_chunk_size must be 0 (adaptive) or in 10..chunk_size "
                                       "({}) speech tokens, got {}",
                                       out.chunk_tokens, v)};
    }
    out.first_chunk_tokens = static_cast<int>(v);
  }
  if (j.contains("seed") && !j.at("seed").is_null()) {
    const json& s = j.at("seed");
    if (!s.is_number_unsigned()) return wrong_type(j, "seed", "a non-negative integer");
    out.seed = s.get<std::uint64_t>();
  }
  int max_tokens = 0;
  if (auto e = get_int_in_range(j, "max_speech_tokens", 1, limits.max_speech_tokens_limit, "",
                                max_tokens)) {
    return e;
  }
  if (max_tokens > 0) out.max_speech_tokens = max_tokens;
  // Multilingual language: "language" or the reference's "language_id"; the engine validates the
  // code against its table (400 naming the supported ones).
  for (const char* key : {"language", "language_id"}) {
    if (j.contains(key) && !j.at(key).is_null()) {
      if (!j.at(key).is_string()) return wrong_type(j, key, "a string");
      out.language = j.at(key).get<std::string>();
    }
  }
  // English/Multilingual controls and the sampling temperature; ranges are the engine's.
  const std::pair<const char*, std::optional<float>*> floats[] = {
      {"cfg_weight", &out.cfg_weight},
      {"exaggeration", &out.exaggeration},
      {"temperature", &out.temperature}};
  for (const auto& [key, field] : floats) {
    if (j.contains(key) && !j.at(key).is_null()) {
      if (!j.at(key).is_number()) return wrong_type(j, key, "a number");
      *field = j.at(key).get<float>();
    }
  }
  return std::nullopt;
}

std::variant<SpeechCall, ApiError> parse_openai_speech(std::string_view body,
                                                       const EngineInfo& engine,
                                                       const RequestLimits& limits) {
  auto parsed = parse_object(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  const json& j = std::get<json>(parsed);
  SpeechCall call;
  std::string model;
  std::string voice;
  if (auto e = get_text(j, "input", limits, call.request.text)) return *e;
  if (auto e = get_string(j, "model", model)) return *e;
  if (auto e = get_string(j, "voice", voice)) return *e;
  if (auto e = get_format(j, call.format)) return *e;
  if (auto e = check_number(j, "speed")) return *e;
  if (auto e = get_bool(j, "stream", call.stream)) return *e;
  if (auto e = parse_common_options(j, limits, call.request.options)) return *e;
  // A non-streamed request still passes a chunk callback (the scheduler's); it must get the
  // one-call audio, not streamed windows.
  call.request.options.streaming = call.stream;
  call.request.voice = resolve_voice(voice, engine);
  return call;
}

std::variant<SpeechCall, ApiError> parse_synthesize(std::string_view body, const EngineInfo& engine,
                                                    const RequestLimits& limits) {
  auto parsed = parse_object(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  const json& j = std::get<json>(parsed);
  SpeechCall call;
  std::string voice;
  bool batching = true;
  if (auto e = get_text(j, "text", limits, call.request.text)) return *e;
  if (auto e = get_string(j, "voice", voice)) return *e;
  if (auto e = get_bool(j, "streaming", call.stream)) return *e;
  if (auto e = get_bool(j, "enable_batching", batching)) return *e;
  if (auto e = get_int_in_range(j, "priority", kMinPriority, kMaxPriority, "", call.priority)) {
    return *e;
  }
  if (auto e = get_format(j, call.format)) return *e;
  if (auto e = parse_common_options(j, limits, call.request.options)) return *e;
  // A non-streamed request still passes a chunk callback (the scheduler's); it must get the
  // one-call audio, not streamed windows.
  call.request.options.streaming = call.stream;
  call.request.options.batching = batching;
  call.request.voice = resolve_voice(voice, engine);
  return call;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool bearer_matches(std::string_view authorization, std::string_view key) {
  constexpr std::string_view kScheme = "Bearer ";
  const std::size_t n = kScheme.size() + key.size();
  // Folded into one accumulator with no early exit; a short header is compared as zero bytes.
  unsigned diff = authorization.size() == n ? 0u : 1u;
  for (std::size_t i = 0; i < n; ++i) {
    const char want = i < kScheme.size() ? kScheme[i] : key[i - kScheme.size()];
    const char got = i < authorization.size() ? authorization[i] : '\0';
    diff |= static_cast<unsigned char>(want ^ got);
  }
  return diff == 0;
}

std::optional<std::string> query_param(std::string_view target, std::string_view key) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) != key) continue;
    const std::string_view raw =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        out += ' ';
      } else if (raw[i] == '%') {
        if (i + 2 >= raw.size()) return std::nullopt;
        const int hi = hex_value(raw[i + 1]);
        const int lo = hex_value(raw[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
      } else {
        out += raw[i];
      }
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace chatterd::serving
