#pragma once
// `chatterd serve`: an HTTP/1.1 server over one TtsEngine. I/O threads run the io_context (a strand
// per connection); one Scheduler worker runs the engine.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "chatterd/engine/tts_engine.h"
#include "core/trace.h"
#include "serving/connection_limiter.h"
#include "serving/http_session.h"
#include "serving/metrics.h"
#include "serving/net.h"
#include "serving/scheduler.h"
#include "serving/server_config.h"
#include "serving/server_state.h"
#include "serving/session_registry.h"
#include "serving/voice_service.h"

namespace chatterd {
class CachingEngine;
}  // namespace chatterd

namespace chatterd::serving {

class Server {
 public:
  // Validates `config`, binds and listens (throws IoError when the address cannot be bound).
  // Serving starts with start().
  Server(ServerConfig config, std::unique_ptr<TtsEngine> engine);
  // Builds the engine from config.model / config.n_threads.
  static std::unique_ptr<Server> create(const ServerConfig& config);
  ~Server();  // shutdown()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();
  // The bound port (the ephemeral one when config.port was 0).
  std::uint16_t port() const { return port_; }
  // Graceful: stop accepting, answer 503 to new requests, let admitted syntheses and their
  // responses finish within config.shutdown_grace, then cancel the rest, close every WebSocket
  // with 1001 (going away) once its remaining audio is written, and join every thread. Takes at
  // most shutdown_grace + kCloseWindow. Blocks; call it from a thread that is not an I/O thread.
  // Idempotent. With config.trace_file set, writes the trace there last (a write error is
  // logged: shutdown itself never throws).
  void shutdown();

  // How long WebSocket close handshakes may take after shutdown_grace has run out.
  static constexpr std::chrono::milliseconds kCloseWindow{1000};

  Metrics& metrics() { return metrics_; }
  const ConnectionLimiter& connections() const { return connections_; }
  const ServerConfig& config() const { return config_; }
  const EngineInfo& engine_info() const { return engine_->info(); }
  ServerState& state() { return *state_; }
  // nullptr unless config.trace_file is set.
  const Tracer* tracer() const { return tracer_.get(); }

 private:
  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);

  ServerConfig config_;
  std::unique_ptr<TtsEngine> engine_;       // the request cache in front of the engine, when on
  CachingEngine* request_cache_ = nullptr;  // engine_, when it is the cache
  // Metrics, the limiter and the registry outlive the io_context: sessions destroyed with its
  // pending handlers still release their connection ticket and registry entry.
  Metrics metrics_;
  ConnectionLimiter connections_;
  SessionRegistry ws_sessions_;
  std::unique_ptr<Tracer> tracer_;  // before scheduler_: the workers record into it
  net::io_context ioc_;
  // Keeps run() going while a session's only pending work is a synthesis on the Scheduler.
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<EngineObserver> observer_;  // the engine's batch steps -> metrics, trace
  std::unique_ptr<VoiceService> voices_;
  std::unique_ptr<ServerState> state_;
  tcp::acceptor acceptor_;  // on its own strand (accept handlers vs. the shutdown close)
  // Accept errors such as EMFILE (no file descriptors left) repeat at once: pause before the next
  // accept instead of spinning. On the acceptor's strand.
  net::steady_timer accept_pause_;
  std::uint16_t port_ = 0;
  std::vector<std::thread> threads_;
  std::mutex shutdown_mutex_;
  bool shut_down_ = false;
};

}  // namespace chatterd::serving
