#pragma once
// Shared set-up of the serving tests: a loopback config, a server over a scripted engine, and a
// bounded wait for state the server updates after the client saw a reply.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "serving/fake_engine.h"
#include "serving/server.h"

namespace chatterd::serving::testing {

inline ServerConfig loopback_config() {
  ServerConfig c;
  c.port = 0;
  c.model = "espeak";
  c.n_threads = 1;
  c.max_text_chars = 200;
  c.max_body_bytes = 4096;
  c.request_timeout = std::chrono::seconds(10);
  c.shutdown_grace = std::chrono::seconds(5);
  return c;
}

// Little-endian u32 at byte `pos` (WAV header fields).
inline std::uint32_t u32_at(const std::string& s, std::size_t pos) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(s[pos + static_cast<std::size_t>(i)]);
  return v;
}

template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

struct ScriptedServer {
  explicit ScriptedServer(const std::function<void(FakeEngine&)>& setup,
                          const std::function<void(ServerConfig&)>& configure = {}) {
    auto e = std::make_unique<FakeEngine>();
    setup(*e);
    engine = e.get();
    ServerConfig c = loopback_config();
    c.model = "fake";
    c.max_queue = 8;
    if (configure) configure(c);
    server = std::make_unique<Server>(c, std::move(e));
    server->start();
  }
  std::uint16_t port() const { return server->port(); }
  FakeEngine* engine = nullptr;
  std::unique_ptr<Server> server;
};

}  // namespace chatterd::serving::testing
