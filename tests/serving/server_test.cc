// In-process server on 127.0.0.1, port 0: the espeak engine for real audio, a scripted engine
// (fake_engine.h) where the test must control timing (streaming order, 429, disconnects).

#include "serving/server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <future>
#include <regex>
#include <span>
#include <string>
#include <thread>

#include "io/audio_file.h"
#include "serving/fake_engine.h"
#include "serving/http_client.h"
#include "serving/test_server.h"
#include "serving/ws_client.h"

namespace chatterd::serving {
namespace {

using testing::FakeEngine;
using testing::header;
using testing::Reply;
using testing::request;
using testing::u32_at;

class ServingHttpEspeak : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = Server::create(testing::loopback_config()).release();
    server_->start();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static std::uint16_t port() { return server_->port(); }
  static Server* server_;
};
Server* ServingHttpEspeak::server_ = nullptr;

TEST_F(ServingHttpEspeak, Health) {
  const Reply r = request(port(), http::verb::get, "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header(r, http::field::content_type), "application/json");
  EXPECT_EQ(r.body, "{\"model\":\"espeak-ng\",\"sample_rate\":24000,\"status\":\"ok\"}\n");
}

TEST_F(ServingHttpEspeak, OpenAiSpeechReturnsValidWav) {
  const Reply r = request(port(), http::verb::post, "/v1/audio/speech",
                          R"({"model":"tts-1","input":"Hello there.","voice":"alloy"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(header(r, http::field::content_type), "audio/wav");
  ASSERT_GT(r.body.size(), 44u + 2400u);  // more than 50 ms of audio
  EXPECT_EQ(r.body.substr(0, 4), "RIFF");
  EXPECT_EQ(r.body.substr(8, 4), "WAVE");
  EXPECT_EQ(u32_at(r.body, 4), r.body.size() - 8);
  EXPECT_EQ(u32_at(r.body, 24), 24000u);
  EXPECT_EQ(u32_at(r.body, 40), r.body.size() - 44);  // data length = samples x 2
  EXPECT_EQ((r.body.size() - 44) % 2, 0u);
  EXPECT_EQ(header(r, http::field::content_length), std::to_string(r.body.size()));
}

TEST_F(ServingHttpEspeak, StreamingPcmIsChunkedAndMatchesWholeAudio) {
  const std::string text = "Hello there. This is a second sentence.";
  const Reply whole = request(port(), http::verb::post, "/synthesize",
                              R"({"text":")" + text + R"(","response_format":"pcm"})");
  const Reply streamed =
      request(port(), http::verb::post, "/synthesize",
              R"({"text":")" + text + R"(","response_format":"pcm","streaming":true})");
  ASSERT_EQ(whole.status, 200);
  ASSERT_EQ(streamed.status, 200);
  EXPECT_EQ(header(streamed, http::field::content_type), "audio/pcm");
  EXPECT_EQ(header(streamed, http::field::transfer_encoding), "chunked");
  EXPECT_GE(streamed.chunk_sizes.size(), 1u);
  // Not compared byte for byte with `whole`: the espeak engine's output for a text varies with the
  // requests run before it in the process (seen: 56461 vs 56741 samples). ServingHttpFake checks
  // that streamed bytes are exactly the engine's chunks.
  EXPECT_EQ(streamed.body.size() % 2, 0u);
  EXPECT_GT(streamed.body.size(), whole.body.size() / 2);
  EXPECT_LT(streamed.body.size(), whole.body.size() * 2);
}

// MP3, Ogg Opus and FLAC, whole and streamed: each reply is a file the decoders read, as long as
// the WAV of the same text (espeak's length varies a few percent between runs; codecs pad).
TEST_F(ServingHttpEspeak, CompressedFormatsWholeAndStreamedDecode) {
  const std::string text = "Hello there. This is a second sentence.";
  const Reply wav = request(port(), http::verb::post, "/synthesize", R"({"text":")" + text + "\"}");
  ASSERT_EQ(wav.status, 200) << wav.body;
  const double seconds = static_cast<double>(wav.body.size() - 44) / 2.0 / 24000.0;
  struct Format {
    const char* name;
    const char* content_type;
  };
  for (const Format f :
       {Format{"mp3", "audio/mpeg"}, Format{"opus", "audio/ogg"}, Format{"flac", "audio/flac"}}) {
    for (const bool streamed : {false, true}) {
      SCOPED_TRACE(std::string(f.name) + (streamed ? " streamed" : " whole"));
      const Reply r = request(port(), http::verb::post, "/synthesize",
                              R"({"text":")" + text + R"(","response_format":")" + f.name +
                                  R"(","streaming":)" + (streamed ? "true" : "false") + "}");
      ASSERT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(header(r, http::field::content_type), f.content_type);
      if (streamed) {
        EXPECT_EQ(header(r, http::field::transfer_encoding), "chunked");
      }
      const auto* p = reinterpret_cast<const std::byte*>(r.body.data());
      const AudioData d =
          read_audio(std::span<const std::byte>(p, r.body.size()), std::string("reply.") + f.name);
      EXPECT_EQ(d.channels, 1);
      EXPECT_NEAR(d.seconds(), seconds, 0.25 * seconds);
    }
  }
  // The OpenAI route takes the same names.
  const Reply mp3 = request(port(), http::verb::post, "/v1/audio/speech",
                            R"({"input":"Hello.","voice":"alloy","response_format":"mp3"})");
  ASSERT_EQ(mp3.status, 200) << mp3.body;
  EXPECT_EQ(header(mp3, http::field::content_type), "audio/mpeg");
}

TEST_F(ServingHttpEspeak, ErrorStatuses) {
  const auto post = [](const char* path, const std::string& body) {
    return request(port(), http::verb::post, path, body);
  };
  const Reply malformed = post("/v1/audio/speech", R"({"input": )");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(malformed.body.find("malformed JSON"), std::string::npos) << malformed.body;
  EXPECT_EQ(post("/v1/audio/speech", R"({"input": 5})").status, 400);
  EXPECT_EQ(post("/v1/audio/speech", R"({"input": ""})").status, 400);
  EXPECT_EQ(post("/v1/audio/speech", "{\"input\": \"\xc3\x28\"}").status, 400);
  EXPECT_EQ(post("/v1/audio/speech", R"({"input":")" + std::string(201, 'a') + "\"}").status, 413);
  EXPECT_EQ(post("/synthesize", std::string(5000, ' ')).status, 413);  // body limit 4096
  const Reply format = post("/v1/audio/speech", R"({"input":"a","response_format":"aac"})");
  EXPECT_EQ(format.status, 400);
  EXPECT_NE(format.body.find("'aac' is not supported; supported: wav, pcm, mp3, opus, flac"),
            std::string::npos)
      << format.body;
  EXPECT_EQ(request(port(), http::verb::get, "/nope").status, 404);
  const Reply method = request(port(), http::verb::get, "/v1/audio/speech");
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(header(method, http::field::allow), "POST");
  EXPECT_EQ(request(port(), http::verb::post, "/health", "{}").status, 405);
}

TEST_F(ServingHttpEspeak, KeepAliveServesSeveralRequestsOnOneConnection) {
  net::io_context ioc;
  tcp::socket socket = testing::connect(port(), ioc);
  beast::flat_buffer buffer;
  for (int i = 0; i < 3; ++i) {
    testing::send_request(
        socket, http::verb::post, "/synthesize",
        R"({"text":"One.","streaming":)" + std::string(i % 2 ? "true" : "false") + "}");
    const Reply r = testing::read_reply(socket, buffer);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.substr(0, 4), "RIFF");
  }
}

TEST_F(ServingHttpEspeak, MetricsExposition) {
  ASSERT_EQ(request(port(), http::verb::get, "/health").status, 200);
  ASSERT_EQ(request(port(), http::verb::post, "/v1/audio/speech", R"({"input":"Hi."})").status,
            200);
  ASSERT_EQ(request(port(), http::verb::get, "/nope").status, 404);
  // The server books a request out after its write completes, which can be after the client saw
  // the reply: wait for that so the counters below are settled.
  ASSERT_TRUE(testing::wait_for([] { return server_->metrics().in_flight.load() == 0; }));
  const Reply r = request(port(), http::verb::get, "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(header(r, http::field::content_type).find("text/plain"), std::string::npos);
  const auto has = [&](const char* pattern) {
    return std::regex_search(r.body, std::regex(pattern, std::regex::multiline));
  };
  EXPECT_TRUE(has(R"(^chatterd_requests_total\{status="200"\} [1-9][0-9]*$)")) << r.body;
  EXPECT_TRUE(has(R"(^chatterd_requests_total\{status="404"\} [1-9][0-9]*$)")) << r.body;
  EXPECT_TRUE(has(R"(^chatterd_requests_in_flight 1$)")) << r.body;  // this very request
  EXPECT_TRUE(testing::wait_for([] { return server_->metrics().in_flight.load() == 0; }));
  EXPECT_TRUE(has(R"(^chatterd_queue_depth [0-9]+$)")) << r.body;
  EXPECT_TRUE(testing::wait_for([] { return server_->metrics().queue_depth.load() == 0; }));
  EXPECT_TRUE(has(R"(^chatterd_audio_seconds_total 0\.[0-9]+|^chatterd_audio_seconds_total [1-9])"))
      << r.body;
  EXPECT_TRUE(has(R"(^# TYPE chatterd_time_to_first_audio_seconds histogram$)")) << r.body;
  EXPECT_TRUE(has(R"(^chatterd_time_to_first_audio_seconds_bucket\{le="\+Inf"\} [1-9][0-9]*$)"))
      << r.body;
  EXPECT_TRUE(has(R"(^chatterd_real_time_factor_count [1-9][0-9]*$)")) << r.body;
}

// ---- scripted engine ----

// A server over the scripted engine with a queue bound of `max_queue`.
std::function<void(ServerConfig&)> queue_of(std::size_t max_queue) {
  return [max_queue](ServerConfig& c) { c.max_queue = max_queue; };
}

TEST(ServingHttpFake, FirstChunkArrivesBeforeSynthesisEnds) {
  testing::ScriptedServer fs([](FakeEngine& e) { e.gated = true; }, queue_of(4));
  net::io_context ioc;
  tcp::socket socket = testing::connect(fs.server->port(), ioc);
  testing::send_request(socket, http::verb::post, "/v1/audio/speech",
                        R"({"input":"x","stream":true,"voice":"v1"})");
  // The engine holds after chunk 0; the header and the WAV header + chunk 0 must already be here.
  beast::flat_buffer buffer;
  http::response_parser<http::empty_body> head;
  http::read_header(socket, buffer, head);
  EXPECT_EQ(head.get().result_int(), 200u);
  EXPECT_EQ(head.get()[http::field::transfer_encoding], "chunked");
  EXPECT_EQ(head.get()[http::field::content_type], "audio/wav");
  fs.engine->wait_started();
  // Raw read of the first chunk frame: "<hex size>\r\n" + 44 + 4800 bytes.
  std::string raw(static_cast<const char*>(buffer.data().data()), buffer.size());
  while (raw.find("\r\n") == std::string::npos || raw.size() < 4850) {
    char tmp[8192];
    const std::size_t n = socket.read_some(net::buffer(tmp));
    raw.append(tmp, n);
  }
  EXPECT_EQ(raw.substr(0, raw.find("\r\n")), "12ec");  // 44 + 4800 = 0x12ec
  EXPECT_EQ(raw.substr(raw.find("\r\n") + 2, 4), "RIFF");
  EXPECT_EQ(fs.engine->last_voice(), "v1");
  fs.engine->open_gate();
}

TEST(ServingHttpFake, FullQueueAnswers429WithRetryAfter) {
  testing::ScriptedServer fs([](FakeEngine& e) { e.gated = true; }, queue_of(1));
  net::io_context ioc;
  tcp::socket held = testing::connect(fs.server->port(), ioc);
  testing::send_request(held, http::verb::post, "/synthesize", R"({"text":"x","streaming":true})");
  fs.engine->wait_started();
  const Reply refused =
      request(fs.server->port(), http::verb::post, "/synthesize", R"({"text":"y"})");
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(header(refused, http::field::retry_after), "1");
  fs.engine->open_gate();
  beast::flat_buffer buffer;
  const Reply first = testing::read_reply(held, buffer);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body.size(), 44u + 3u * 4800u);
  EXPECT_TRUE(testing::wait_for([&] { return fs.server->metrics().responses(429) == 1; }));
  // Room again once the first finished: the worker frees its slot just after the last byte is
  // handed over, so wait for that before asking again.
  EXPECT_TRUE(testing::wait_for([&] { return fs.server->metrics().queue_depth.load() == 0; }));
  EXPECT_EQ(request(fs.server->port(), http::verb::post, "/synthesize", R"({"text":"z"})").status,
            200);
}

TEST(ServingHttpFake, ClientLeavingMidStreamCancelsOnlyItsRequest) {
  testing::ScriptedServer fs(
      [](FakeEngine& e) {
        e.n_chunks = 2000;  // ~10 s if never cancelled
        e.chunk_delay = std::chrono::milliseconds(5);
      },
      queue_of(4));
  {
    net::io_context ioc;
    tcp::socket leaver = testing::connect(fs.server->port(), ioc);
    testing::send_request(leaver, http::verb::post, "/synthesize",
                          R"({"text":"x","streaming":true})");
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> head;
    http::read_header(leaver, buffer, head);
    ASSERT_EQ(head.get().result_int(), 200u);
    // Queue a second request behind it, then hang up on the first.
    auto other = std::async(std::launch::async, [&] {
      return request(fs.server->port(), http::verb::post, "/synthesize",
                     R"({"text":"short","response_format":"pcm"})");
    });
    EXPECT_TRUE(testing::wait_for([&] { return fs.server->metrics().queue_depth.load() == 2; }));
    leaver.close();
    // The waiting request would wait ~10 s if the first were not cancelled.
    ASSERT_EQ(other.wait_for(std::chrono::seconds(8)), std::future_status::ready);
    const Reply r = other.get();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.size(), 3u * 4800u);
  }
  EXPECT_EQ(fs.engine->cancellations.load(), 1);
  EXPECT_TRUE(testing::wait_for([&] { return fs.server->metrics().in_flight.load() == 0; }));
  // The worker lowers the depth just after handing the reply over: wait for it, as above.
  EXPECT_TRUE(testing::wait_for([&] { return fs.server->metrics().queue_depth.load() == 0; }));
}

TEST(ServingHttpFake, ShutdownLetsInFlightFinishAndRefusesNewWork) {
  testing::ScriptedServer fs([](FakeEngine& e) { e.gated = true; }, queue_of(4));
  net::io_context ioc;
  tcp::socket held = testing::connect(fs.server->port(), ioc);
  testing::send_request(held, http::verb::post, "/synthesize", R"({"text":"x"})");
  fs.engine->wait_started();
  auto stopping = std::async(std::launch::async, [&] { fs.server->shutdown(); });
  // New connections are refused once the acceptor is closed.
  EXPECT_TRUE(testing::wait_for([&] {
    try {
      net::io_context probe_ioc;
      (void)testing::connect(fs.server->port(), probe_ioc);
      return false;
    } catch (const boost::system::system_error&) {
      return true;
    }
  }));
  fs.engine->open_gate();
  beast::flat_buffer buffer;
  const Reply r = testing::read_reply(held, buffer);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 44u + 3u * 4800u);
  ASSERT_EQ(stopping.wait_for(std::chrono::seconds(8)), std::future_status::ready);
}

// max_streams counts streamed HTTP responses as well as WebSockets: one more streamed request
// is refused with 429 + Retry-After at once (it is not queued), and the slot frees when the
// stream ends.
TEST(ServingHttpFake, StreamedResponsesBeyondMaxStreamsGet429WithRetryAfter) {
  testing::ScriptedServer fs([](FakeEngine& e) { e.gated = true; },
                             [](ServerConfig& c) { c.max_streams = 1; });
  net::io_context ioc;
  tcp::socket held = testing::connect(fs.server->port(), ioc);
  testing::send_request(held, http::verb::post, "/synthesize", R"({"text":"x","streaming":true})");
  fs.engine->wait_started();
  const Reply refused = request(fs.server->port(), http::verb::post, "/v1/audio/speech",
                                R"({"input":"y","stream":true})");
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(header(refused, http::field::retry_after), "1");
  EXPECT_NE(refused.body.find("streams open"), std::string::npos) << refused.body;
  EXPECT_EQ(fs.engine->calls.load(), 1);  // never admitted
  fs.engine->open_gate();
  beast::flat_buffer buffer;
  EXPECT_EQ(testing::read_reply(held, buffer).status, 200);
  EXPECT_TRUE(testing::wait_for([&] { return fs.server->metrics().active_streams.load() == 0; }));
  EXPECT_EQ(request(fs.server->port(), http::verb::post, "/synthesize",
                    R"({"text":"z","streaming":true})")
                .status,
            200);
}

TEST(ServingHttpFake, ApiKeyRequiredWhenConfigured) {
  auto e = std::make_unique<FakeEngine>();
  ServerConfig c = testing::loopback_config();
  c.api_key = "s3cret";
  Server server(c, std::move(e));
  server.start();
  EXPECT_EQ(request(server.port(), http::verb::get, "/health").status, 200);
  EXPECT_EQ(request(server.port(), http::verb::get, "/metrics").status, 401);
  http::fields auth;
  auth.set(http::field::authorization, "Bearer s3cret");
  EXPECT_EQ(request(server.port(), http::verb::get, "/metrics", {}, auth).status, 200);
  // The WebSocket upgrade needs it too: no key or a wrong one is 401 before any upgrade.
  EXPECT_EQ(testing::upgrade_status(server.port()).first, 401);
  http::fields wrong;
  wrong.set(http::field::authorization, "Bearer s3creT");
  EXPECT_EQ(testing::upgrade_status(server.port(), "/v1/stream", wrong).first, 401);
  EXPECT_EQ(testing::upgrade_status(server.port(), "/v1/stream", auth).first, 101);
  EXPECT_EQ(server.metrics().ws_contexts_total.load(), 0u);
}

}  // namespace
}  // namespace chatterd::serving
