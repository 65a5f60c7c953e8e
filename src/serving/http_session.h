#pragma once
// One HTTP/1.1 connection: reads a request, routes it, writes the answer, repeats (keep-alive).
// Every handler runs on the connection's strand; synthesis goes to the Scheduler and its chunks
// come back as posted tasks, so I/O threads never compute and never block. An upgrade to
// /v1/stream hands the connection to a WebSocket session (ws_session.h).

#include "serving/net.h"
#include "serving/server_state.h"

namespace chatterd::serving {

// Starts the session on `socket` (it keeps itself alive through its pending handlers).
void start_http_session(tcp::socket socket, ServerState& state);

// The value of `key` in the query of `target` ("/p?a=1&b=x%20y"), percent-decoded; nullopt when
// absent or badly encoded.
std::optional<std::string> query_param(std::string_view target, std::string_view key);

}  // namespace chatterd::serving
