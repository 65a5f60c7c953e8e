#pragma once
// A small synchronous Beast WebSocket client for /v1/stream tests: sends JSON messages, collects
// events and audio per context until a condition holds.

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "serving/net.h"

namespace chatterd::serving::testing {

namespace websocket = beast::websocket;

struct WsContextLog {
  std::vector<nlohmann::json> events;  // in arrival order (chunk events included)
  std::string pcm;                     // concatenated audio bytes of the binary frames
  std::size_t frames = 0;
  bool done = false;
  bool cancelled = false;
  std::vector<int> errors;  // statuses of error events
  std::int64_t flushes_done = 0;
};

// The status of a bare WebSocket upgrade request to `target` (101, or 429 when refused), read
// as plain HTTP so the refusal's headers can be checked; the socket is closed after. `extra`:
// more request headers (Authorization).
inline std::pair<int, std::string> upgrade_status(std::uint16_t port,
                                                  const std::string& target = "/v1/stream",
                                                  const http::fields& extra = {}) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::sec_websocket_version, "13");
  req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  for (const auto& f : extra) req.set(f.name_string(), f.value());
  http::write(socket, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.skip(false);
  http::read_header(socket, buffer, parser);
  const auto& res = parser.get();
  return {static_cast<int>(res.result_int()), std::string(res[http::field::retry_after])};
}

class WsClient {
 public:
  explicit WsClient(std::uint16_t port, const std::string& target = "/v1/stream") : ws_(ioc_) {
    auto& sock = beast::get_lowest_layer(ws_);
    sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    ws_.handshake("127.0.0.1", target);
  }

  void send(const nlohmann::json& j) { send_text(j.dump()); }
  void send_text(const std::string& text) {
    ws_.text(true);
    ws_.write(net::buffer(text));
  }
  void send_binary(const std::string& bytes) {
    ws_.binary(true);
    ws_.write(net::buffer(bytes));
  }

  // Reads one message into the logs; false when the socket closed. Connection errors (events
  // without a context) go to errors_ under "".
  bool read_one() {
    beast::flat_buffer buf;
    beast::error_code ec;
    ws_.read(buf, ec);
    if (ec) return false;
    const std::string data = beast::buffers_to_string(buf.data());
    if (ws_.got_binary()) {
      const auto n = static_cast<unsigned char>(data.at(0));
      const std::string id = data.substr(1, n);
      WsContextLog& log = logs[id];
      log.pcm += data.substr(1 + n);
      ++log.frames;
      binary_order.push_back(id);
      return true;
    }
    const nlohmann::json e = nlohmann::json::parse(data);
    const auto id_it = e.find("context_id");
    const std::string id = id_it == e.end() ? std::string() : id_it->dump();
    WsContextLog& log = logs[id.empty() ? id : id.substr(1, id.size() - 2)];  // unquote
    log.events.push_back(e);
    const std::string type = e.at("type").get<std::string>();
    if (type == "done") {
      log.done = true;
      log.cancelled = e.contains("cancelled") && e.at("cancelled") == nlohmann::json(true);
    } else if (type == "error") {
      log.errors.push_back(e.at("status").get<int>());
    } else if (type == "flush_done") {
      ++log.flushes_done;
    }
    return true;
  }

  // Reads until `pred()` holds; false when the socket closed first.
  template <class Pred>
  bool read_until(Pred pred) {
    while (!pred()) {
      if (!read_one()) return false;
    }
    return true;
  }

  void close() {
    beast::error_code ec;
    ws_.close(websocket::close_code::normal, ec);
  }
  websocket::stream<tcp::socket>& raw() { return ws_; }

  std::map<std::string, WsContextLog> logs;
  std::vector<std::string> binary_order;  // context of each binary frame, in order

 private:
  net::io_context ioc_;
  websocket::stream<tcp::socket> ws_;
};

}  // namespace chatterd::serving::testing
