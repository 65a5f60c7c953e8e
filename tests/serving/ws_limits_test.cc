// WebSocket /v1/stream under shutdown (close code 1001 after the in-flight work) and bad input
// not covered by ws_test.cc: oversized and non-UTF-8 frames, messages that do nothing, a text
// backlog over the limit, an unknown voice, blank text, protocol violations.

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <future>

#include "serving/test_server.h"
#include "serving/ws_client.h"

namespace chatterd::serving {
namespace {

using nlohmann::json;
using testing::ScriptedServer;
using testing::wait_for;
using testing::WsClient;

using Clock = std::chrono::steady_clock;

// Reads until the server closes; returns the close code it sent (0: none, e.g. a bare TCP close).
int read_until_closed(WsClient& ws) {
  while (ws.read_one()) {
  }
  return static_cast<int>(ws.raw().reason().code);
}

TEST(WsShutdown, RunningContextFinishesThenTheSocketClosesWithGoingAway) {
  ScriptedServer fs([](testing::FakeEngine& e) { e.gated = true; });  // shutdown_grace 5 s
  WsClient ws(fs.port());
  ws.send({{"context_id", "a"}, {"transcript", "One sentence."}, {"continue", false}});
  fs.engine->wait_started();  // held after chunk 0
  const auto start = Clock::now();
  auto stopping = std::async(std::launch::async, [&] { fs.server->shutdown(); });
  ASSERT_TRUE(wait_for([&] { return fs.server->state().shutting_down.load(); }));
  fs.engine->open_gate();
  EXPECT_EQ(read_until_closed(ws), 1001);
  const testing::WsContextLog& log = ws.logs["a"];
  EXPECT_TRUE(log.done);  // the whole context: every chunk, then done, then the close frame
  EXPECT_EQ(log.frames, 3u);
  EXPECT_TRUE(log.errors.empty());
  ASSERT_EQ(stopping.wait_for(std::chrono::seconds(4)), std::future_status::ready);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(4));
  EXPECT_EQ(fs.server->metrics().active_streams.load(), 0);
}

TEST(WsShutdown, ContextStillRunningAtTheDeadlineIsCancelledThenClosed) {
  ScriptedServer fs(
      [](testing::FakeEngine& e) {
        e.n_chunks = 2000;  // ~10 s: far past the grace
        e.chunk_delay = std::chrono::milliseconds(5);
      },
      [](ServerConfig& c) { c.shutdown_grace = std::chrono::seconds(1); });
  WsClient ws(fs.port());
  ws.send({{"context_id", "long"}, {"transcript", "A very long sentence."}});
  ASSERT_TRUE(ws.read_until([&] { return ws.logs["long"].frames >= 1; }));
  const auto start = Clock::now();
  auto stopping = std::async(std::launch::async, [&] { fs.server->shutdown(); });
  EXPECT_EQ(read_until_closed(ws), 1001);
  EXPECT_EQ(ws.logs["long"].errors, std::vector<int>{503});  // cancelled, not done
  EXPECT_FALSE(ws.logs["long"].done);
  ASSERT_EQ(stopping.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  // grace (1 s) + the close window (1 s) at most; here the client answers the close at once.
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(2500));
  EXPECT_EQ(fs.engine->cancellations.load(), 1);
}

TEST(WsShutdown, OpenContextsGet503AndIdleSocketsCloseToo) {
  ScriptedServer fs([](testing::FakeEngine&) {});
  WsClient busy(fs.port());
  WsClient idle(fs.port());
  // No sentence end yet: the text waits in the context's buffer.
  busy.send({{"context_id", "open"}, {"transcript", "still typing"}, {"continue", true}});
  ASSERT_TRUE(wait_for([&] { return fs.server->metrics().ws_contexts_total.load() == 1; }));
  const auto start = Clock::now();
  auto stopping = std::async(std::launch::async, [&] { fs.server->shutdown(); });
  EXPECT_EQ(read_until_closed(busy), 1001);
  EXPECT_EQ(busy.logs["open"].errors, std::vector<int>{503});
  EXPECT_EQ(read_until_closed(idle), 1001);
  ASSERT_EQ(stopping.wait_for(std::chrono::seconds(4)), std::future_status::ready);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(4));
  EXPECT_EQ(fs.engine->calls.load(), 0);
}

TEST(WsShutdown, AClientThatNeverAnswersTheCloseDoesNotHoldTheServer) {
  ScriptedServer fs([](testing::FakeEngine&) {},
                    [](ServerConfig& c) { c.shutdown_grace = std::chrono::seconds(5); });
  WsClient mute(fs.port());  // never reads: never answers the close frame
  const auto start = Clock::now();
  fs.server->shutdown();
  // The session's own close timeout (1 s) ends it well before the grace runs out.
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(3500));
  EXPECT_EQ(fs.server->state().ws_sessions.size(), 0u);
}

TEST(WsBadInput, ClientThatReadsNothingIsCutOffAndOthersKeepStreaming) {
  ScriptedServer fs([](testing::FakeEngine& e) {
    e.n_chunks = 10000;  // 480 MB if never stopped; a socket may lag 8 MiB
    e.samples_per_chunk = 24000;
  });
  WsClient slow(fs.port());
  slow.send({{"context_id", "a"}, {"transcript", "Never read."}});
  // ~0.1 s; the bound leaves room for a loaded TSan build.
  EXPECT_TRUE(wait_for([&] { return fs.server->metrics().slow_clients_total.load() == 1; },
                       std::chrono::milliseconds(30000)));
  EXPECT_TRUE(wait_for([&] { return fs.engine->cancellations.load() == 1; }));
  EXPECT_TRUE(wait_for([&] { return fs.server->metrics().active_streams.load() == 0; }));
  WsClient other(fs.port());
  other.send({{"context_id", "b"}, {"transcript", "short"}});
  ASSERT_TRUE(other.read_until([&] { return other.logs["b"].done; }));
  EXPECT_EQ(other.logs["b"].frames, 3u);
}

TEST(WsBadInput, OversizedMessageClosesWith1009AndOtherSocketsKeepStreaming) {
  ScriptedServer fs([](testing::FakeEngine& e) { e.chunk_delay = std::chrono::milliseconds(2); });
  WsClient other(fs.port());
  other.send({{"context_id", "a"}, {"transcript", "A sentence."}, {"continue", false}});
  WsClient big(fs.port());
  big.send({{"context_id", "b"}, {"transcript", std::string(5000, 'x')}});  // max_body_bytes 4096
  EXPECT_EQ(read_until_closed(big), 1009);
  ASSERT_TRUE(other.read_until([&] { return other.logs["a"].done; }));
  EXPECT_EQ(other.logs["a"].frames, 3u);
  EXPECT_TRUE(wait_for([&] { return fs.server->metrics().active_streams.load() == 1; }));
}

// A raw socket upgraded by hand, to send frames no conforming client library would.
struct RawWs {
  explicit RawWs(std::uint16_t port) : socket(ioc) {
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    const timeval tv{20, 0};  // a server that never answers fails the test, not the suite
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    http::request<http::empty_body> req{http::verb::get, "/v1/stream", 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::sec_websocket_version, "13");
    req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    http::write(socket, req);
    http::response_parser<http::empty_body> parser;
    parser.skip(true);  // a 101 has no body
    http::read_header(socket, buffer, parser);
    status = static_cast<int>(parser.get().result_int());
  }
  // Reads to EOF; the close code of the first frame if it is a close frame, else 0.
  int close_code() {
    std::string in(static_cast<const char*>(buffer.data().data()), buffer.size());
    beast::error_code ec;
    char tmp[1024];
    while (!ec) {
      const std::size_t n = socket.read_some(net::buffer(tmp), ec);
      in.append(tmp, n);
    }
    socket.close();  // ends the server's teardown, which waits for our side to close
    if (in.size() < 4 || static_cast<unsigned char>(in[0]) != 0x88) return 0;
    return (static_cast<unsigned char>(in[2]) << 8) | static_cast<unsigned char>(in[3]);
  }
  net::io_context ioc;
  tcp::socket socket;
  beast::flat_buffer buffer;
  int status = 0;
};

// Protocol violations (RFC 6455 5.1, 5.2): an unmasked client frame and a reserved opcode close
// that socket with 1002 (protocol error); a socket streaming beside them is not disturbed.
TEST(WsBadInput, ProtocolViolationsCloseWith1002AndOtherSocketsKeepStreaming) {
  ScriptedServer fs([](testing::FakeEngine& e) { e.chunk_delay = std::chrono::milliseconds(2); });
  WsClient other(fs.port());
  other.send({{"context_id", "a"}, {"transcript", "A sentence."}, {"continue", false}});
  RawWs unmasked(fs.port());
  ASSERT_EQ(unmasked.status, 101);
  // FIN + text, no MASK bit, 2-byte payload.
  net::write(unmasked.socket, net::buffer(std::string("\x81\x02{}", 4)));
  EXPECT_EQ(unmasked.close_code(), 1002);
  RawWs reserved(fs.port());
  ASSERT_EQ(reserved.status, 101);
  // FIN + opcode 0x3 (reserved), MASK bit, empty payload, 4-byte mask key.
  net::write(reserved.socket, net::buffer(std::string("\x83\x80\x01\x02\x03\x04", 6)));
  EXPECT_EQ(reserved.close_code(), 1002);
  ASSERT_TRUE(other.read_until([&] { return other.logs["a"].done; }));
  EXPECT_EQ(other.logs["a"].frames, 3u);
  EXPECT_TRUE(other.logs["a"].errors.empty());
  EXPECT_EQ(fs.engine->calls.load(), 1);
  EXPECT_TRUE(wait_for([&] { return fs.server->metrics().active_streams.load() == 1; }));
}

TEST(WsBadInput, InvalidUtf8InATextFrameClosesWith1007) {
  ScriptedServer fs([](testing::FakeEngine&) {});
  WsClient ws(fs.port());
  ws.send_text("{\"context_id\":\"a\",\"transcript\":\"caf\xc3\x28\"}");
  EXPECT_EQ(read_until_closed(ws), 1007);
  EXPECT_EQ(fs.engine->calls.load(), 0);
}

TEST(WsBadInput, MessageThatDoesNothingIs400AndTakesNoContext) {
  ScriptedServer fs([](testing::FakeEngine&) {}, [](ServerConfig& c) { c.max_contexts = 1; });
  WsClient ws(fs.port());
  ws.send({{"context_id", "a"}, {"type", "speak"}, {"text", "Cartesia has no such message."}});
  ws.send({{"context_id", "b"}, {"voice", "v1"}});  // options alone
  ASSERT_TRUE(ws.read_until([&] { return ws.logs["b"].errors.size() == 1; }));
  EXPECT_EQ(ws.logs["a"].errors, std::vector<int>{400});
  EXPECT_EQ(ws.logs["b"].errors, std::vector<int>{400});
  EXPECT_NE(ws.logs["a"].events[0]["message"].get<std::string>().find("does nothing"),
            std::string::npos);
  // max_contexts is 1: neither message above holds it.
  ws.send({{"context_id", "c"}, {"transcript", "Real text."}});
  ASSERT_TRUE(ws.read_until([&] { return ws.logs["c"].done; }));
  EXPECT_TRUE(ws.logs["c"].errors.empty());
  EXPECT_EQ(fs.server->metrics().ws_contexts_total.load(), 1u);
}

TEST(WsBadInput, TextBacklogOverTheLimitIs413ForThatPieceOnly) {
  ScriptedServer fs([](testing::FakeEngine&) {});  // max_text_chars 200: backlog limit 800 bytes
  WsClient ws(fs.port());
  ws.send({{"context_id", "a"}, {"transcript", "Kept. "}, {"continue", true}});
  ws.send({{"context_id", "a"}, {"transcript", std::string(900, 'y')}, {"continue", true}});
  ASSERT_TRUE(ws.read_until([&] { return ws.logs["a"].errors.size() == 1; }));
  EXPECT_EQ(ws.logs["a"].errors[0], 413);
  ws.send({{"context_id", "a"}, {"transcript", "Bye."}, {"continue", false}});
  ASSERT_TRUE(ws.read_until([&] { return ws.logs["a"].done; }));
  EXPECT_EQ(fs.engine->texts(), (std::vector<std::string>{"Kept.", "Bye."}));
}

TEST(WsBadInput, UnknownVoiceUsesTheDefaultAndBlankTextSynthesisesNothing) {
  ScriptedServer fs([](testing::FakeEngine&) {});
  WsClient ws(fs.port());
  ws.send({{"context_id", "blank"}, {"transcript", "  \n\t "}});
  ASSERT_TRUE(ws.read_until([&] { return ws.logs["blank"].done; }));
  EXPECT_EQ(ws.logs["blank"].events.back()["segments"], 0);
  EXPECT_EQ(fs.engine->calls.load(), 0);
  ws.send({{"context_id", "v"}, {"transcript", "Hi."}, {"voice", {{"id", "nobody"}}}});
  ASSERT_TRUE(ws.read_until([&] { return ws.logs["v"].done; }));
  EXPECT_EQ(fs.engine->last_voice(), "");  // the engine's default voice
  EXPECT_EQ(ws.logs["v"].frames, 3u);
  ws.send({{"context_id", "k"}, {"transcript", "Hi."}, {"voice", "v1"}});
  ASSERT_TRUE(ws.read_until([&] { return ws.logs["k"].done; }));
  EXPECT_EQ(fs.engine->last_voice(), "v1");
}

}  // namespace
}  // namespace chatterd::serving
