#pragma once
// One HTTP/1.1 connection: reads a request, routes it, writes the answer, repeats (keep-alive).
// Every handler runs on the connection's strand; synthesis goes to the Scheduler and its chunks
// come back as posted tasks, so I/O threads never compute and never block. An upgrade to
// /v1/stream hands the connection to a WebSocket session (ws_session.h).

#include "serving/connection_limiter.h"
#include "serving/net.h"
#include "serving/server_state.h"

namespace chatterd::serving {

// Starts the session on `socket` (it keeps itself alive through its pending handlers). `ticket`
// is the connection's place under the connection limits, given back when the socket closes.
void start_http_session(tcp::socket socket, ServerState& state, ConnectionTicket ticket);

}  // namespace chatterd::serving
