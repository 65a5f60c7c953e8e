#pragma once
// JSON endpoints that only read or set server state, apart from the connection handling:
// GET /v1/voices, POST /configure-streaming (GET /optimization-status: status_json.h). Bodies end
// in a newline.

#include <string>
#include <variant>

#include "serving/api_request.h"
#include "serving/server_state.h"

namespace chatterd::serving {

// {"voices": [{"name", "default"}...], "can_clone"}: the first voice is the engine's default.
std::string voice_list_json(const ServerState& state);
// {"chunk_size": 25..200, "max_speech_tokens": 0..limit}: the defaults of later requests that do
// not set them; the answer is the new defaults. Unknown keys and wrong types are a 400 that
// changes nothing (a typo must not look applied).
std::variant<std::string, ApiError> configure_streaming(ServerState& state,
                                                        const std::string& body);

}  // namespace chatterd::serving
