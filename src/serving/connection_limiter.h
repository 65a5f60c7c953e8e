#pragma once
// Admission of TCP connections at accept: an overall cap and a cap per peer address, so that one
// client opening connections in a loop cannot take every socket and strand the others need.
// A refused connection gets a short HTTP answer (429 per peer, 503 overall) with
// `Connection: close` and is closed (refuse_connection).

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>

#include "serving/metrics.h"
#include "serving/net.h"

namespace chatterd::serving {

enum class ConnectionRefusal {
  None,   // admitted
  PerIp,  // the peer already has max_connections_per_ip open
  Total,  // max_connections are open
};

class ConnectionLimiter;

// One admitted connection: releases its place when destroyed. Moves with the connection (the
// HTTP session hands it to the WebSocket session on an upgrade). A refused ticket holds nothing.
class ConnectionTicket {
 public:
  ConnectionTicket() = default;
  ConnectionTicket(ConnectionTicket&& other) noexcept { *this = std::move(other); }
  ConnectionTicket& operator=(ConnectionTicket&& other) noexcept;
  ConnectionTicket(const ConnectionTicket&) = delete;
  ConnectionTicket& operator=(const ConnectionTicket&) = delete;
  ~ConnectionTicket() { release(); }

  bool admitted() const { return limiter_ != nullptr; }
  ConnectionRefusal refusal() const { return refusal_; }
  void release();

 private:
  friend class ConnectionLimiter;
  ConnectionLimiter* limiter_ = nullptr;
  net::ip::address peer_;
  ConnectionRefusal refusal_ = ConnectionRefusal::None;
};

class ConnectionLimiter {
 public:
  // max_per_ip 0: no per-peer limit. Must outlive every ticket (Server member order).
  ConnectionLimiter(std::size_t max_total, std::size_t max_per_ip, Metrics& metrics);
  ConnectionTicket admit(const net::ip::address& peer);
  std::size_t open() const;
  std::size_t open_from(const net::ip::address& peer) const;

  // A refused socket may linger (answer, then drain) only while fewer than max_total others do:
  // beyond that it is closed at once, so refusals never hold more descriptors than connections.
  bool try_linger();
  void end_linger();
  std::size_t lingering() const;

 private:
  friend class ConnectionTicket;
  void release(const net::ip::address& peer);

  const std::size_t max_total_;
  const std::size_t max_per_ip_;
  Metrics& metrics_;
  mutable std::mutex mutex_;  // accepts and closes on any I/O thread; a map lookup under it
  std::size_t open_ = 0;
  std::size_t lingering_ = 0;
  std::map<net::ip::address, std::size_t> per_peer_;  // only peers with open connections
};

// How long a refused connection may linger: the answer's write, then reading (and discarding)
// what the client already sent, so that closing does not reset the connection before the client
// read the answer.
inline constexpr std::chrono::milliseconds kRefusalLinger{1000};

// Answers `socket` with the refusal's status (`Retry-After: 1`, `Connection: close`, a JSON error
// body), then closes it; runs on `socket`'s executor, never blocks. When `limiter` has too many
// refusals lingering already, closes it at once without an answer.
void refuse_connection(tcp::socket socket, ConnectionRefusal why, std::size_t limit,
                       ConnectionLimiter& limiter);

}  // namespace chatterd::serving
