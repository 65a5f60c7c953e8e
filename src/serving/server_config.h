#pragma once
// Everything `chatterd serve` can be told, typed and checked once at start-up.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace chatterd::serving {

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: an ephemeral port (Server::port() tells which)
  std::string model = "espeak";
  int n_threads = 0;                     // engine threads; 0: one per core
  int io_threads = 2;                    // threads running the io_context (they never synthesise)
  std::size_t max_text_chars = 5000;     // code points; longer: 413
  std::size_t max_queue = 16;            // admitted requests waiting or running; more: 429
  std::size_t max_body_bytes = 1 << 20;  // request body; larger: 413
  std::chrono::seconds request_timeout{60};  // read of one request / each write to the client
  std::chrono::seconds shutdown_grace{10};   // in-flight work gets this long after SIGTERM
  std::optional<std::string> api_key;        // when set: "Authorization: Bearer KEY" required

  // Throws InvalidArgument listing every problem at once.
  void validate() const;
  // One "key = value" per line; the API key is shown only as set/unset.
  std::string to_string() const;
};

}  // namespace chatterd::serving
