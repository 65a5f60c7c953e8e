#pragma once
// One HTTP/1.1 connection: reads a request, routes it, writes the answer, repeats (keep-alive).
// Every handler runs on the connection's strand; synthesis goes to the Scheduler and its chunks
// come back as posted tasks, so I/O threads never compute and never block.

#include <atomic>

#include "chatterd/engine/tts_engine.h"
#include "serving/metrics.h"
#include "serving/net.h"
#include "serving/scheduler.h"
#include "serving/server_config.h"

namespace chatterd::serving {

// What every session reads; owned by the Server, outlives the sessions' handlers.
struct ServerState {
  const ServerConfig& config;
  const EngineInfo& engine_info;
  Scheduler& scheduler;
  Metrics& metrics;
  std::atomic<bool> shutting_down{false};
};

// Starts the session on `socket` (it keeps itself alive through its pending handlers).
void start_http_session(tcp::socket socket, ServerState& state);

}  // namespace chatterd::serving
