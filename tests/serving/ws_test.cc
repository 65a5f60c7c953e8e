// WebSocket /v1/stream against a scripted engine (timing under the test's control) and espeak.

#include <gtest/gtest.h>

#include <cstring>

#include "serving/http_client.h"
#include "serving/test_server.h"
#include "serving/text_segmenter.h"
#include "serving/ws_client.h"

namespace chatterd::serving {
namespace {

using nlohmann::json;
using testing::ScriptedServer;
using testing::wait_for;
using testing::WsClient;

std::vector<std::int16_t> samples_of(const std::string& pcm) {
  std::vector<std::int16_t> out(pcm.size() / 2);
  std::memcpy(out.data(), pcm.data(), out.size() * 2);
  return out;
}

TEST(TextSegmenter, CutsAtSentenceEndsFollowedBySpace) {
  TextSegmenter s;
  EXPECT_TRUE(s.push("Hello there").empty());
  EXPECT_EQ(s.push(". It costs 3."), std::vector<std::string>{"Hello there."});
  const auto a = s.push("5 dollars! Ok");  // "3." was not an end: it became "3.5"
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0], "It costs 3.5 dollars!");
  EXPECT_EQ(s.flush(), "Ok");
  EXPECT_EQ(s.flush(), "");
  const auto b = s.push("line one\nline two\u3002 next");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[1], "line two\u3002");
}

TEST(TextSegmenter, LongSentenceWithoutPunctuationIsCutAtAWord) {
  TextSegmenter s(20);
  const auto out = s.push("aaaa bbbb cccc dddd eeee ffff gggg");
  ASSERT_FALSE(out.empty());
  for (const std::string& seg : out) {
    EXPECT_LE(seg.size(), 20u) << seg;
    EXPECT_NE(seg.back(), ' ');
  }
  EXPECT_EQ(out[0], "aaaa bbbb cccc dddd");
}

TEST(WsFake, SentencesOfOneContextAreSynthesisedInOrderWithFlushAndDone) {
  ScriptedServer fs([](testing::FakeEngine& e) { e.n_chunks = 2; });
  WsClient ws(fs.port());
  ws.send({{"context_id", "a"}, {"transcript", "Hello there. How"}, {"continue", true}});
  ws.send({{"context_id", "a"}, {"transcript", " are you? Fine"}, {"continue", true}});
  ws.send({{"context_id", "a"}, {"flush", true}});
  ASSERT_TRUE(ws.read_until([&] { return ws.logs["a"].flushes_done == 1; }));
  ws.send({{"context_id", "a"}, {"transcript", " Bye."}, {"continue", false}});
  ASSERT_TRUE(ws.read_until([&] { return ws.logs["a"].done; }));
  const auto texts = fs.engine->texts();
  EXPECT_EQ(texts, (std::vector<std::string>{"Hello there.", "How are you?", "Fine", "Bye."}));
  const testing::WsContextLog& log = ws.logs["a"];
  EXPECT_TRUE(log.errors.empty());
  EXPECT_EQ(log.frames, 8u);  // 4 segments x 2 chunks
  EXPECT_EQ(log.pcm.size(), 8u * 2400u * 2u);
  // Each binary frame is announced by a chunk event; flush_done comes after the 3rd segment.
  int chunks_before_flush = 0;
  for (const json& e : log.events) {
    if (e["type"] == "flush_done") break;
    if (e["type"] == "chunk") ++chunks_before_flush;
  }
  EXPECT_EQ(chunks_before_flush, 6);
  EXPECT_EQ(log.events.back()["type"], "done");
  EXPECT_EQ(log.events.back()["segments"], 4);
  for (std::int16_t v : samples_of(log.pcm)) ASSERT_EQ(v, 8192);  // 0.25 * 32768
}

TEST(WsFake, SeveralContextsOnOneSocketAreDistinguishable) {
  ScriptedServer fs([](testing::FakeEngine& e) {
    e.text_valued = true;
    e.chunk_delay = std::chrono::milliseconds(2);
  });
  WsClient ws(fs.port());
  // Interleaved pieces; each context's audio value is 0.01 x its segment's length.
  ws.send({{"context_id", "first"}, {"transcript", "abcd"}, {"continue", true}});
  ws.send({{"context_id", "second"}, {"transcript", "abcdefghij"}, {"continue", true}});
  ws.send({{"context_id", "first"}, {"transcript", "efgh."}, {"continue", false}});
  ws.send({{"context_id", "second"}, {"transcript", "klmnopqrs."}, {"continue", false}});
  ASSERT_TRUE(ws.read_until([&] { return ws.logs["first"].done && ws.logs["second"].done; }));
  const auto check = [&](const std::string& id, std::size_t text_len) {
    const auto s = samples_of(ws.logs[id].pcm);
    ASSERT_EQ(s.size(), 3u * 2400u) << id;
    const auto want =
        static_cast<std::int16_t>(std::lround(0.01f * static_cast<float>(text_len) * 32768.0f));
    for (std::int16_t v : s) ASSERT_EQ(v, want) << id;
  };
  check("first", 9);    // "abcdefgh."
  check("second", 20);  // "abcdefghijklmnopqrs."
  EXPECT_TRUE(ws.logs[""].errors.empty());
}

TEST(WsFake, CancelStopsTheRunningSynthesisWithinOneChunkAndDropsPending) {
  ScriptedServer fs([](testing::FakeEngine& e) {
    e.gated = true;
    e.n_chunks = 10;
  });
  WsClient ws(fs.port());
  ws.send({{"context_id", "a"}, {"transcript", "One. Two. Three."}, {"continue", false}});
  fs.engine->wait_started();  // held after chunk 0 of "One."
  ws.send({{"context_id", "a"}, {"cancel", true}});
  ASSERT_TRUE(ws.read_until([&] { return ws.logs["a"].done; }));
  EXPECT_TRUE(ws.logs["a"].cancelled);
  fs.engine->open_gate();
  ASSERT_TRUE(wait_for([&] { return fs.engine->cancellations.load() == 1; }));
  // The socket still serves another context; the cancelled one's pending segments never ran.
  ws.send({{"context_id", "b"}, {"transcript", "short"}, {"continue", false}});
  ASSERT_TRUE(ws.read_until([&] { return ws.logs["b"].done; }));
  EXPECT_EQ(fs.engine->calls.load(), 2);
  EXPECT_LE(ws.logs["a"].frames, 1u);  // chunk 0 at most; nothing after the cancel
  EXPECT_EQ(ws.logs["b"].frames, 3u);
}

TEST(WsFake, GarbageGetsErrorEventsAndDisturbsNoOtherContext) {
  ScriptedServer fs([](testing::FakeEngine& e) { e.chunk_delay = std::chrono::milliseconds(5); });
  WsClient ws(fs.port());
  WsClient other(fs.port());
  ws.send({{"context_id", "good"}, {"transcript", "a sentence."}, {"continue", false}});
  other.send({{"context_id", "good"}, {"transcript", "a sentence."}, {"continue", false}});
  ws.send_binary(std::string("\x00\xff garbage", 10));
  ws.send_text("not json {");
  ws.send_text("[1, 2]");
  ws.send({{"context_id", 5}});
  ws.send({{"context_id", ""}});
  ws.send({{"context_id", "x"}, {"transcript", 5}});
  ws.send({{"context_id", "y"}, {"transcript", "hi"}, {"output_format", {{"encoding", "mp3"}}}});
  ws.send({{"context_id", "z"}, {"transcript", "hi"}, {"max_speech_tokens", -3}});
  ws.send({{"context_id", "w"}, {"cancel", "yes"}});
  ASSERT_TRUE(ws.read_until([&] {
    return ws.logs["good"].done && ws.logs[""].errors.size() == 5 &&
           ws.logs["x"].errors.size() == 1 && ws.logs["y"].errors.size() == 1 &&
           ws.logs["z"].errors.size() == 1 && ws.logs["w"].errors.size() == 1;
  }));
  for (int status : ws.logs[""].errors) EXPECT_EQ(status, 400);
  EXPECT_EQ(ws.logs["good"].frames, 3u);
  EXPECT_TRUE(ws.logs["good"].errors.empty());
  ASSERT_TRUE(other.read_until([&] { return other.logs["good"].done; }));
  EXPECT_EQ(other.logs["good"].frames, 3u);
  EXPECT_TRUE(other.logs[""].errors.empty());
  // A message after the end of a context is refused; a new context with the same id is fine.
  ws.send({{"context_id", "good"}, {"transcript", "again."}});
  ASSERT_TRUE(ws.read_until([&] {
    return ws.logs["good"].events.back()["type"] == "done" && ws.logs["good"].frames == 6;
  }));
}

TEST(WsFake, ContextAndStreamLimits) {
  ScriptedServer fs([](testing::FakeEngine& e) { e.gated = true; },
                    [](ServerConfig& c) {
                      c.max_contexts = 2;
                      c.max_streams = 1;
                    });
  WsClient ws(fs.port());
  ws.send({{"context_id", "a"}, {"transcript", "x"}, {"continue", true}});
  ws.send({{"context_id", "b"}, {"transcript", "y"}, {"continue", true}});
  ws.send({{"context_id", "c"}, {"transcript", "z"}, {"continue", true}});
  ASSERT_TRUE(ws.read_until([&] { return !ws.logs["c"].errors.empty(); }));
  EXPECT_EQ(ws.logs["c"].errors[0], 429);
  // A second socket is refused at the upgrade: 429 + Retry-After.
  const auto [status, retry_after] = testing::upgrade_status(fs.port());
  EXPECT_EQ(status, 429);
  EXPECT_EQ(retry_after, "1");
  fs.engine->open_gate();
  ws.close();
  EXPECT_TRUE(wait_for([&] { return fs.server->metrics().active_streams.load() == 0; }));
}

TEST(WsFake, ClientThatDisconnectsStopsItsSynthesis) {
  ScriptedServer fs([](testing::FakeEngine& e) {
    e.gated = true;
    e.n_chunks = 50;
  });
  {
    WsClient ws(fs.port());
    ws.send({{"context_id", "a"}, {"transcript", "a long one."}, {"continue", false}});
    fs.engine->wait_started();
    beast::get_lowest_layer(ws.raw()).close();  // no close frame: the peer just vanishes
  }
  ASSERT_TRUE(wait_for([&] { return fs.server->metrics().active_streams.load() == 0; }));
  fs.engine->open_gate();
  EXPECT_TRUE(wait_for([&] { return fs.engine->cancellations.load() == 1; }));
}

TEST(WsFake, PlainHttpGetOfTheStreamPathIs426) {
  ScriptedServer fs([](testing::FakeEngine&) {});
  EXPECT_EQ(testing::request(fs.port(), http::verb::get, "/v1/stream").status, 426);
}

TEST(WsEspeak, StreamsRealAudioForTwoPieces) {
  ServerConfig c = testing::loopback_config();
  const auto server = Server::create(c);
  server->start();
  WsClient ws(server->port());
  ws.send({{"context_id", "ctx-1"},
           {"transcript", "Hello from the stream. "},
           {"continue", true},
           {"output_format",
            {{"container", "raw"}, {"encoding", "pcm_s16le"}, {"sample_rate", 24000}}}});
  ws.send({{"context_id", "ctx-1"}, {"transcript", "And goodbye."}, {"continue", false}});
  ASSERT_TRUE(ws.read_until([&] { return ws.logs["ctx-1"].done; }));
  const auto s = samples_of(ws.logs["ctx-1"].pcm);
  EXPECT_GT(s.size(), 24000u / 2);  // two sentences: well over half a second
  EXPECT_TRUE(std::any_of(s.begin(), s.end(), [](std::int16_t v) { return std::abs(v) > 1000; }));
  EXPECT_TRUE(ws.logs["ctx-1"].errors.empty());
}

}  // namespace
}  // namespace chatterd::serving
