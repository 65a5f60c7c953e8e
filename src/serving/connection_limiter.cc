#include "serving/connection_limiter.h"

#include <fmt/format.h>

#include <array>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace chatterd::serving {

ConnectionTicket& ConnectionTicket::operator=(ConnectionTicket&& other) noexcept {
  if (this != &other) {
    release();
    limiter_ = std::exchange(other.limiter_, nullptr);
    peer_ = other.peer_;
    refusal_ = other.refusal_;
  }
  return *this;
}

void ConnectionTicket::release() {
  if (limiter_ != nullptr) std::exchange(limiter_, nullptr)->release(peer_);
}

ConnectionLimiter::ConnectionLimiter(std::size_t max_total, std::size_t max_per_ip,
                                     Metrics& metrics)
    : max_total_(max_total), max_per_ip_(max_per_ip), metrics_(metrics) {}

ConnectionTicket ConnectionLimiter::admit(const net::ip::address& peer) {
  ConnectionTicket ticket;
  const std::lock_guard lock(mutex_);
  std::size_t& from_peer = per_peer_[peer];
  if (max_per_ip_ > 0 && from_peer >= max_per_ip_) {
    ticket.refusal_ = ConnectionRefusal::PerIp;
    metrics_.connections_refused_per_ip.fetch_add(1);
  } else if (open_ >= max_total_) {
    ticket.refusal_ = ConnectionRefusal::Total;
    metrics_.connections_refused_max.fetch_add(1);
  } else {
    ++from_peer;
    ++open_;
    metrics_.connections_open.fetch_add(1);
    ticket.limiter_ = this;
    ticket.peer_ = peer;
  }
  if (from_peer == 0) per_peer_.erase(peer);
  return ticket;
}

void ConnectionLimiter::release(const net::ip::address& peer) {
  const std::lock_guard lock(mutex_);
  const auto it = per_peer_.find(peer);
  if (it != per_peer_.end() && --it->second == 0) per_peer_.erase(it);
  --open_;
  metrics_.connections_open.fetch_sub(1);
}

std::size_t ConnectionLimiter::open() const {
  const std::lock_guard lock(mutex_);
  return open_;
}

std::size_t ConnectionLimiter::open_from(const net::ip::address& peer) const {
  const std::lock_guard lock(mutex_);
  const auto it = per_peer_.find(peer);
  return it == per_peer_.end() ? 0 : it->second;
}

bool ConnectionLimiter::try_linger() {
  const std::lock_guard lock(mutex_);
  if (lingering_ >= max_total_) return false;
  ++lingering_;
  return true;
}

void ConnectionLimiter::end_linger() {
  const std::lock_guard lock(mutex_);
  --lingering_;
}

std::size_t ConnectionLimiter::lingering() const {
  const std::lock_guard lock(mutex_);
  return lingering_;
}

namespace {

// Writes the answer, half-closes, drains what the client sent until EOF or kRefusalLinger.
class Refusal : public std::enable_shared_from_this<Refusal> {
 public:
  Refusal(tcp::socket&& socket, std::string answer, ConnectionLimiter& limiter)
      : stream_(std::move(socket)), answer_(std::move(answer)), limiter_(limiter) {}
  ~Refusal() { limiter_.end_linger(); }  // the limiter outlives the io_context
  Refusal(const Refusal&) = delete;
  Refusal& operator=(const Refusal&) = delete;

  void start() {
    stream_.expires_after(kRefusalLinger);
    net::async_write(stream_, net::buffer(answer_),
                     beast::bind_front_handler(&Refusal::on_write, shared_from_this()));
  }

 private:
  void on_write(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return close();
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    do_drain();
  }

  void do_drain() {
    stream_.async_read_some(net::buffer(sink_),
                            beast::bind_front_handler(&Refusal::on_drain, shared_from_this()));
  }

  void on_drain(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return close();  // EOF, reset or the linger timeout
    do_drain();
  }

  void close() {
    beast::error_code ec;
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  std::string answer_;
  ConnectionLimiter& limiter_;
  std::array<char, 4096> sink_{};
};

}  // namespace

void refuse_connection(tcp::socket socket, ConnectionRefusal why, std::size_t limit,
                       ConnectionLimiter& limiter) {
  if (!limiter.try_linger()) {  // a flood of refusals: no answer, no descriptor kept
    beast::error_code ec;
    socket.close(ec);
    return;
  }
  const bool per_ip = why == ConnectionRefusal::PerIp;
  const int status = per_ip ? 429 : 503;
  const std::string message =
      per_ip
          ? fmt::format("too many connections from your address (max {}); close some first", limit)
          : fmt::format("server has {} connections open; retry later", limit);
  const std::string body =
      nlohmann::json{{"error", {{"message", message}, {"code", status}}}}.dump() + "\n";
  std::string answer = fmt::format(
      "HTTP/1.1 {} {}\r\nServer: chatterd\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{}",
      status, per_ip ? "Too Many Requests" : "Service Unavailable", body.size(), body);
  std::make_shared<Refusal>(std::move(socket), std::move(answer), limiter)->start();
}

}  // namespace chatterd::serving
