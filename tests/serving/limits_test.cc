// Connection limits (per peer address and overall), a slow reader of a streamed response, and the
// settings behind them. Peers other than 127.0.0.1 are other loopback addresses (127.0.0.2):
// every connection still goes to the server on 127.0.0.1.

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <fstream>
#include <future>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "chatterd/core/error.h"
#include "fixture_dirs.h"
#include "serving/http_client.h"
#include "serving/server_config.h"
#include "serving/test_server.h"

namespace chatterd::serving {
namespace {

using testing::header;
using testing::Reply;
using testing::ScriptedServer;
using testing::wait_for;

// A connection from `source` (a loopback address) to the server.
tcp::socket connect_from(std::uint16_t port, net::io_context& ioc, const char* source) {
  tcp::socket socket(ioc);
  socket.open(tcp::v4());
  socket.bind(tcp::endpoint(net::ip::make_address(source), 0));
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  return socket;
}

// What a refused connection gets without sending anything: one response, then EOF.
Reply read_refusal(tcp::socket& socket) {
  beast::flat_buffer buffer;
  Reply r = testing::read_reply(socket, buffer);
  char byte = 0;
  beast::error_code ec;
  socket.read_some(net::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, net::error::eof);  // the server closed after answering
  return r;
}

Reply synthesize_from(std::uint16_t port, const char* source) {
  net::io_context ioc;
  tcp::socket s = connect_from(port, ioc, source);
  testing::send_request(s, http::verb::post, "/synthesize", R"({"text":"short"})");
  beast::flat_buffer buffer;
  return testing::read_reply(s, buffer);
}

TEST(ServingConnections, OnePeerOverItsLimitIsRefusedWhileOthersAreServed) {
  ScriptedServer fs([](testing::FakeEngine&) {},
                    [](ServerConfig& c) {
                      c.max_connections_per_ip = 3;
                      c.max_connections = 100;
                    });
  net::io_context ioc;
  std::vector<tcp::socket> held;
  for (int i = 0; i < 3; ++i) held.push_back(connect_from(fs.port(), ioc, "127.0.0.1"));
  ASSERT_TRUE(wait_for([&] { return fs.server->connections().open() == 3; }));
  // The flood: limit + 2 more from the same address. The listen queue is FIFO, so these are
  // accepted after the three above and refused.
  for (int i = 0; i < 2; ++i) {
    tcp::socket extra = connect_from(fs.port(), ioc, "127.0.0.1");
    const Reply r = read_refusal(extra);
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(header(r, http::field::connection), "close");
    EXPECT_EQ(header(r, http::field::retry_after), "1");
    EXPECT_NE(r.body.find("too many connections from your address (max 3)"), std::string::npos)
        << r.body;
  }
  // Another peer is not affected, and the held connections still work.
  const Reply other = synthesize_from(fs.port(), "127.0.0.2");
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(other.body.size(), 44u + 3u * 4800u);
  testing::send_request(held[0], http::verb::get, "/health", "");
  beast::flat_buffer buffer;
  EXPECT_EQ(testing::read_reply(held[0], buffer).status, 200);
  EXPECT_EQ(fs.server->metrics().connections_refused_per_ip.load(), 2u);
  const Reply metrics = [&] {
    testing::send_request(held[1], http::verb::get, "/metrics", "");
    beast::flat_buffer b;
    return testing::read_reply(held[1], b);
  }();
  EXPECT_TRUE(std::regex_search(
      metrics.body, std::regex(R"(chatterd_connections_refused_total\{reason="per_ip"\} 2\n)")))
      << metrics.body;
  // Released connections make room again.
  held.clear();
  ASSERT_TRUE(wait_for([&] { return fs.server->connections().open() == 0; }));
  EXPECT_EQ(synthesize_from(fs.port(), "127.0.0.1").status, 200);
}

TEST(ServingConnections, OverallCapAnswers503AndFreesUpOnClose) {
  ScriptedServer fs([](testing::FakeEngine&) {},
                    [](ServerConfig& c) {
                      c.max_connections = 2;
                      c.max_connections_per_ip = 0;  // no per-peer limit
                    });
  net::io_context ioc;
  std::vector<tcp::socket> held;
  held.push_back(connect_from(fs.port(), ioc, "127.0.0.1"));
  held.push_back(connect_from(fs.port(), ioc, "127.0.0.2"));
  ASSERT_TRUE(wait_for([&] { return fs.server->connections().open() == 2; }));
  tcp::socket extra = connect_from(fs.port(), ioc, "127.0.0.3");
  const Reply r = read_refusal(extra);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(header(r, http::field::connection), "close");
  EXPECT_NE(r.body.find("\"code\":503"), std::string::npos) << r.body;
  EXPECT_EQ(fs.server->metrics().connections_refused_max.load(), 1u);
  held.pop_back();
  ASSERT_TRUE(wait_for([&] { return fs.server->connections().open() == 1; }));
  EXPECT_EQ(synthesize_from(fs.port(), "127.0.0.3").status, 200);
}

TEST(ServingConnections, RefusalReachesAClientThatAlreadySentItsRequest) {
  // The server reads and drops what the client sent before closing, so the close does not reset
  // the connection under the client's feet (it would lose the answer).
  ScriptedServer fs([](testing::FakeEngine&) {},
                    [](ServerConfig& c) {
                      c.max_connections = 1;
                      c.max_connections_per_ip = 0;
                    });
  net::io_context ioc;
  tcp::socket held = connect_from(fs.port(), ioc, "127.0.0.1");
  ASSERT_TRUE(wait_for([&] { return fs.server->connections().open() == 1; }));
  tcp::socket extra = connect_from(fs.port(), ioc, "127.0.0.2");
  testing::send_request(extra, http::verb::post, "/synthesize",
                        R"({"text":")" + std::string(3000, 'a') + "\"}");
  beast::flat_buffer buffer;
  EXPECT_EQ(testing::read_reply(extra, buffer).status, 503);
}

TEST(ServingConnections, RefusalsNeverHoldMoreSocketsThanConnections) {
  // max_connections 1: one refusal may linger (answer + drain); while it does, the next refused
  // socket is closed at once without an answer.
  ScriptedServer fs([](testing::FakeEngine&) {},
                    [](ServerConfig& c) {
                      c.max_connections = 1;
                      c.max_connections_per_ip = 0;
                    });
  net::io_context ioc;
  tcp::socket held = connect_from(fs.port(), ioc, "127.0.0.1");
  ASSERT_TRUE(wait_for([&] { return fs.server->connections().open() == 1; }));
  tcp::socket first = connect_from(fs.port(), ioc, "127.0.0.2");  // stays open: it lingers
  beast::flat_buffer buffer;
  EXPECT_EQ(testing::read_reply(first, buffer).status, 503);
  EXPECT_EQ(fs.server->connections().lingering(), 1u);
  {
    tcp::socket second = connect_from(fs.port(), ioc, "127.0.0.3");
    char byte = 0;
    beast::error_code ec;
    EXPECT_EQ(second.read_some(net::buffer(&byte, 1), ec), 0u);  // closed, no answer
    EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
  }
  first.close();  // the linger ends at its EOF
  ASSERT_TRUE(wait_for([&] { return fs.server->connections().lingering() == 0; }));
  tcp::socket third = connect_from(fs.port(), ioc, "127.0.0.3");
  EXPECT_EQ(read_refusal(third).status, 503);
  EXPECT_EQ(fs.server->metrics().connections_refused_max.load(), 3u);
}

TEST(ServingSlowClient, StreamNobodyReadsIsCutOffAndTheQueueMovesOn) {
  ScriptedServer fs(
      [](testing::FakeEngine& e) {
        e.n_chunks = 10000;  // 480 MB if never stopped: far past the 16 MiB a client may lag
        e.samples_per_chunk = 24000;
      },
      // A write timeout far beyond the test: the 16 MiB backlog must be what cuts it off (each
      // write's own bound, `timeout`, would come first only on a very slow machine).
      [](ServerConfig& c) { c.request_timeout = std::chrono::seconds(60); });
  net::io_context ioc;
  tcp::socket slow = testing::connect(fs.port(), ioc);
  testing::send_request(slow, http::verb::post, "/synthesize",
                        R"({"text":"x","streaming":true,"response_format":"pcm"})");
  // Never read. A request queued behind it (sent once the slow one runs, so it cannot overtake
  // it) is served once the slow one is cut off.
  ASSERT_TRUE(wait_for([&] { return fs.engine->calls.load() == 1; }));
  auto other = std::async(std::launch::async, [&] {
    return testing::request(fs.port(), http::verb::post, "/synthesize",
                            R"({"text":"short","response_format":"pcm"})");
  });
  ASSERT_EQ(other.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(other.get().status, 200);
  EXPECT_EQ(fs.engine->cancellations.load(), 1);
  EXPECT_TRUE(wait_for([&] { return fs.server->metrics().responses(0) == 1; }));
  EXPECT_EQ(fs.server->metrics().slow_clients_total.load(), 1u);
  EXPECT_TRUE(wait_for([&] { return fs.server->metrics().active_streams.load() == 0; }));
}

TEST(ServingSlowClient, TrickledHeaderIsClosedWhenTheRequestTimeoutRunsOut) {
  // `timeout` bounds the whole request read, not each byte: a byte every 100 ms does not keep
  // the connection open.
  ScriptedServer fs([](testing::FakeEngine&) {},
                    [](ServerConfig& c) { c.request_timeout = std::chrono::seconds(1); });
  net::io_context ioc;
  tcp::socket s = testing::connect(fs.port(), ioc);
  ASSERT_TRUE(wait_for([&] { return fs.server->connections().open() == 1; }));
  const auto start = std::chrono::steady_clock::now();
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    const std::string head = "POST /synthesize HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    for (std::size_t i = 0; !stop.load() && i < 50; ++i) {
      beast::error_code ec;
      const char c = i < head.size() ? head[i] : 'a';
      net::write(s, net::buffer(&c, 1), ec);
      if (ec) return;  // the server closed
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  // The trickle would go on for 5 s; the timeout ends it at ~1 s (bounds loose for slow builds).
  EXPECT_TRUE(wait_for([&] { return fs.server->connections().open() == 0; },
                       std::chrono::milliseconds(4000)));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  stop.store(true);
  trickle.join();
  EXPECT_GE(elapsed, std::chrono::milliseconds(500));
  EXPECT_LT(elapsed, std::chrono::milliseconds(4000));
  EXPECT_EQ(fs.engine->calls.load(), 0);
  // Another client was never held up.
  EXPECT_EQ(testing::request(fs.port(), http::verb::get, "/health").status, 200);
}

TEST(ServingBadInput, UnknownVoiceOverHttpIsTheEnginesDefault) {
  ScriptedServer fs([](testing::FakeEngine&) {});
  const Reply r = testing::request(fs.port(), http::verb::post, "/v1/audio/speech",
                                   R"({"input":"Hi.","voice":"nobody"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(fs.engine->last_voice(), "");
  EXPECT_EQ(testing::request(fs.port(), http::verb::post, "/v1/audio/speech",
                             R"({"input":"Hi.","voice":"v1"})")
                .status,
            200);
  EXPECT_EQ(fs.engine->last_voice(), "v1");
}

TEST(ServingConnectionConfig, KeysAreValidatedAndLayered) {
  ServerConfig c;
  EXPECT_EQ(c.max_connections, 512u);
  EXPECT_EQ(c.max_connections_per_ip, 64u);
  apply_config_json(c, R"({"max_connections": 10, "max_connections_per_ip": 0})", "file");
  EXPECT_EQ(c.max_connections, 10u);
  EXPECT_EQ(c.max_connections_per_ip, 0u);
  c.validate();
  apply_config_env(c, [](const char* name) -> const char* {
    return std::string_view(name) == "CHATTERD_MAX_CONNECTIONS_PER_IP" ? "4" : nullptr;
  });
  EXPECT_EQ(c.max_connections_per_ip, 4u);
  EXPECT_EQ(flag_name("max_connections_per_ip"), "--max-connections-per-ip");
  c.max_connections_per_ip = 11;  // more than max_connections
  EXPECT_THROW(c.validate(), InvalidArgument);
  c.max_connections_per_ip = 1;
  c.max_connections = 0;
  EXPECT_THROW(c.validate(), InvalidArgument);
  EXPECT_THROW(set_config_value(c, "max_connections_per_ip", "-1", "flag"), InvalidArgument);
  EXPECT_NE(c.to_string().find("max_connections_per_ip = 1"), std::string::npos);
}

// Every setting's environment name is in docs/environment_variables.md: the list is written by
// hand, and keys added later went missing from it before.
TEST(ServerConfigDocs, EveryKeyIsDocumentedAsAnEnvironmentVariable) {
  const auto doc_path =
      test::kFixturesDir.parent_path().parent_path() / "docs" / "environment_variables.md";
  std::ifstream in(doc_path);
  ASSERT_TRUE(in) << doc_path;
  std::ostringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  for (const std::string_view key : config_keys()) {
    std::string name = "`CHATTERD_";
    for (const char ch : key)
      name += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    name += '`';
    EXPECT_NE(doc.find(name), std::string::npos) << name << " is not in " << doc_path;
  }
}

}  // namespace
}  // namespace chatterd::serving
