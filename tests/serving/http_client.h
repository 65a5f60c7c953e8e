#pragma once
// A small synchronous Beast client for the server tests.

#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <utility>
#include <vector>

#include "serving/net.h"

namespace chatterd::serving::testing {

struct Reply {
  int status = 0;
  http::fields headers;
  std::string body;
  std::vector<std::size_t> chunk_sizes;  // body chunks as they arrived (chunked replies)
};

inline tcp::socket connect(std::uint16_t port, net::io_context& ioc) {
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  return socket;
}

inline void send_request(tcp::socket& socket, http::verb verb, const std::string& target,
                         const std::string& body, const http::fields& extra = {}) {
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& f : extra) req.set(f.name_string(), f.value());
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req);
}

// Reads one response; `on_chunk` (optional) sees each chunk of a chunked body as it arrives.
inline Reply read_reply(tcp::socket& socket, beast::flat_buffer& buffer,
                        const std::function<void(std::size_t)>& on_chunk = {}) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(256u << 20);
  Reply reply;
  std::function<std::size_t(std::uint64_t, beast::string_view, beast::error_code&)> body_cb =
      [&](std::uint64_t, beast::string_view data, beast::error_code&) {
        reply.body.append(data.data(), data.size());
        reply.chunk_sizes.push_back(data.size());
        if (on_chunk) on_chunk(data.size());
        return data.size();
      };
  parser.on_chunk_body(body_cb);
  http::read(socket, buffer, parser);
  auto res = parser.release();
  reply.status = static_cast<int>(res.result_int());
  reply.headers = static_cast<http::fields>(res.base());
  if (reply.chunk_sizes.empty()) reply.body = res.body();
  return reply;
}

inline Reply request(std::uint16_t port, http::verb verb, const std::string& target,
                     const std::string& body = {}, const http::fields& extra = {}) {
  net::io_context ioc;
  tcp::socket socket = connect(port, ioc);
  send_request(socket, verb, target, body, extra);
  beast::flat_buffer buffer;
  return read_reply(socket, buffer);
}

// POST body(i) to `target` for i < n one by one, then all n at once: {alone, together}.
inline std::pair<std::vector<Reply>, std::vector<Reply>> alone_then_together(
    std::uint16_t port, const std::string& target, int n,
    const std::function<std::string(int)>& body) {
  std::vector<Reply> alone;
  for (int i = 0; i < n; ++i) alone.push_back(request(port, http::verb::post, target, body(i)));
  std::vector<std::future<Reply>> futures;
  for (int i = 0; i < n; ++i) {
    futures.push_back(std::async(
        std::launch::async, [&, i] { return request(port, http::verb::post, target, body(i)); }));
  }
  std::vector<Reply> together;
  for (auto& f : futures) together.push_back(f.get());
  return {std::move(alone), std::move(together)};
}

inline std::string header(const Reply& r, http::field f) {
  const auto it = r.headers.find(f);
  return it == r.headers.end() ? std::string() : std::string(it->value());
}

}  // namespace chatterd::serving::testing
