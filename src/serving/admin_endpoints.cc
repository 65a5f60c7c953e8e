#include "serving/admin_endpoints.h"

#include <fmt/format.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace chatterd::serving {

std::string voice_list_json(const ServerState& state) {
  nlohmann::json voices = nlohmann::json::array();
  const std::vector<std::string> names = state.voices.names();
  for (std::size_t i = 0; i < names.size(); ++i) {
    voices.push_back({{"name", names[i]}, {"default", i == 0}});
  }
  const nlohmann::json body{{"voices", voices}, {"can_clone", state.voices.can_clone()}};
  return body.dump() + "\n";
}

std::variant<std::string, ApiError> configure_streaming(ServerState& state,
                                                        const std::string& body) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    return ApiError{400, fmt::format("malformed JSON: {}", e.what())};
  }
  if (!j.is_object()) return ApiError{400, "body must be a JSON object"};
  StreamingDefaults d = state.streaming_defaults();
  for (const auto& [key, value] : j.items()) {
    if (key != "chunk_size" && key != "max_speech_tokens") {
      return ApiError{
          400, fmt::format("unknown setting '{}'; known: chunk_size, max_speech_tokens", key)};
    }
    if (!value.is_number_integer()) {
      return ApiError{400, fmt::format("{} must be an integer, got {}", key, value.type_name())};
    }
    const auto v = value.get<std::int64_t>();
    if (key == "chunk_size") {
      if (v < 25 || v > 200) {
        return ApiError{400, fmt::format("chunk_size must be in 25..200 speech tokens, got {}", v)};
      }
      d.chunk_tokens = static_cast<int>(v);
    } else {
      if (v < 0 || v > state.config.max_speech_tokens_limit) {
        return ApiError{400, fmt::format("max_speech_tokens must be in 0..{} (0: the model's), "
                                         "got {}",
                                         state.config.max_speech_tokens_limit, v)};
      }
      d.max_speech_tokens = static_cast<int>(v);
    }
  }
  state.set_streaming_defaults(d);
  const nlohmann::json out{{"chunk_size", d.chunk_tokens},
                           {"max_speech_tokens", d.max_speech_tokens}};
  return out.dump() + "\n";
}

}  // namespace chatterd::serving
