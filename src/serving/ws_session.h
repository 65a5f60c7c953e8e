#pragma once
// WebSocket /v1/stream: Cartesia-style contexts over one socket (protocol in docs/api.md).
// Text pieces arrive per context_id, are cut into sentences (TextSegmenter) and synthesised in
// order per context on the Scheduler; audio goes back as binary frames tagged with the context,
// each preceded by a JSON "chunk" event. All session state lives on the connection's strand.

#include "serving/connection_limiter.h"
#include "serving/net.h"
#include "serving/server_state.h"

namespace chatterd::serving {

// Takes over an HTTP connection whose request `req` is a WebSocket upgrade to /v1/stream. The
// caller has taken a stream slot (ServerState::try_open_stream); the session gives it back, and
// the connection's ticket when the socket closes. On shutdown (ServerState::ws_sessions) the
// session ends its contexts (error 503 for those not finished), writes what it holds, and closes
// with 1001 (going away).
void start_ws_session(beast::tcp_stream&& stream, http::request<http::string_body> req,
                      ServerState& state, ConnectionTicket ticket);

// The binary audio frame: [u8 N][N bytes context_id, UTF-8][PCM16 LE mono samples].
std::string ws_audio_frame(const std::string& context_id, std::span<const float> samples);

}  // namespace chatterd::serving
