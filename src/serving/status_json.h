#pragma once
// GET /optimization-status: the effective configuration, engine, scheduler, streams and counters,
// and the lifecycle of the last requests (docs/api.md), as one JSON object.

#include <string>

#include "serving/server_state.h"

namespace chatterd::serving {

std::string optimization_status_json(ServerState& state);

}  // namespace chatterd::serving
