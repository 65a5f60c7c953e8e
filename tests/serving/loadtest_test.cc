// chatterd loadtest against an in-process server (espeak engine, loopback, ephemeral port).

#include "serving/loadtest.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "chatterd/core/error.h"
#include "serving/server.h"

namespace chatterd::serving {
namespace {

ServerConfig espeak_config() {
  ServerConfig c;
  c.port = 0;
  c.model = "espeak";
  c.n_threads = 1;
  c.request_timeout = std::chrono::seconds(10);
  c.shutdown_grace = std::chrono::seconds(5);
  return c;
}

std::string url_of(const Server& s) {
  return "http://127.0.0.1:" + std::to_string(s.port());
}

TEST(LoadTestUrl, ParsesHostPortAndPath) {
  LoadTestUrl u = parse_loadtest_url("http://127.0.0.1:8080");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, "8080");
  EXPECT_EQ(u.target, "/v1/audio/speech");
  u = parse_loadtest_url("localhost:9000/synthesize");
  EXPECT_EQ(u.host, "localhost");
  EXPECT_EQ(u.port, "9000");
  EXPECT_EQ(u.target, "/synthesize");
  u = parse_loadtest_url("http://example.test/");
  EXPECT_EQ(u.port, "80");
  EXPECT_EQ(u.target, "/v1/audio/speech");
  EXPECT_THROW(parse_loadtest_url("https://h:1"), InvalidArgument);
  EXPECT_THROW(parse_loadtest_url("wss://h:1"), InvalidArgument);
  u = parse_loadtest_url("ws://127.0.0.1:8080");
  EXPECT_TRUE(u.websocket);
  EXPECT_EQ(u.target, "/v1/stream");
  EXPECT_FALSE(parse_loadtest_url("http://127.0.0.1:8080").websocket);
  EXPECT_THROW(parse_loadtest_url("http://:8080"), InvalidArgument);
  EXPECT_THROW(parse_loadtest_url("http://h:99999"), InvalidArgument);
  EXPECT_THROW(parse_loadtest_url("http://h:8x"), InvalidArgument);
}

TEST(LoadTestOptions, Validates) {
  LoadTestOptions o;
  o.url = "http://127.0.0.1:1";
  EXPECT_NO_THROW(o.validate());
  o.levels = {};
  EXPECT_THROW(o.validate(), InvalidArgument);
  o.levels = {1, 0};
  EXPECT_THROW(o.validate(), InvalidArgument);
  o.levels = {1};
  o.text_name = "novel";
  EXPECT_THROW(o.validate(), InvalidArgument);
}

TEST(LoadTest, UnreachableServerIsAnIoError) {
  // Bind a port, then free it: nothing listens there.
  std::uint16_t port = 0;
  {
    net::io_context ioc;
    tcp::acceptor a(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  LoadTestOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(port);
  o.levels = {1};
  try {
    run_loadtest(o);
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("server not reachable"), std::string::npos) << e.what();
  }
}

TEST(LoadTest, RampAgainstEspeakServer) {
  Server server(espeak_config(), create_engine(EngineConfig{.model = "espeak", .n_threads = 1}));
  server.start();
  LoadTestOptions o;
  o.url = url_of(server);
  o.levels = {1, 2};
  o.requests_per_level = 3;
  o.level_seconds = 60.0;
  o.text_name = "ultra_short";
  int lines = 0;
  const LoadTestReport r = run_loadtest(o, [&](const std::string&) { ++lines; });
  EXPECT_EQ(lines, 2);
  EXPECT_EQ(r.server_model, "espeak-ng");
  EXPECT_EQ(r.sample_rate_hz, 24000);
  ASSERT_EQ(r.levels.size(), 2u);
  for (const LevelResult& l : r.levels) {
    EXPECT_EQ(l.requests, 3);
    EXPECT_EQ(l.ok, 3) << (l.error_examples.empty() ? "" : l.error_examples[0]);
    EXPECT_TRUE(l.errors.empty());
    EXPECT_FALSE(l.time_bound_hit);
    ASSERT_TRUE(l.ttfc_ms && l.latency_ms && l.rtf);
    EXPECT_EQ(l.ttfc_ms->n, 3);
    EXPECT_GT(l.ttfc_ms->min, 0.0);
    EXPECT_LE(l.ttfc_ms->max, l.latency_ms->max);
    // "Hello there." is ~1 s of speech in espeak; RTF = latency / audio.
    EXPECT_GT(l.rtf->mean, 0.0);
    EXPECT_LT(l.rtf->mean, 5.0);
    EXPECT_GT(l.audio_s_per_wall_s, 0.0);
    // espeak streams several chunks per request, so gaps exist.
    ASSERT_TRUE(l.inter_chunk_gap_ms.has_value());
    EXPECT_GE(l.inter_chunk_gap_ms->min, 0.0);
  }
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(j["metadata"]["kind"], "loadtest");
  EXPECT_EQ(j["configuration"]["levels"], nlohmann::json::array({1, 2}));
  EXPECT_EQ(j["results"][1]["concurrency"], 2);
  EXPECT_EQ(j["summary"]["requests"], 6);
  EXPECT_EQ(j["summary"]["errors"], 0);
  EXPECT_TRUE(j["results"][0]["ttfc_ms"]["p95"].is_number());

  const auto dir = std::filesystem::temp_directory_path() /
                   ("chatterd_loadtest_test_" + std::to_string(::getpid()));
  const auto files = write_loadtest_outputs(r, dir);
  std::ifstream in(files.second);
  std::ostringstream svg;
  svg << in.rdbuf();
  EXPECT_NE(svg.str().find("<polyline"), std::string::npos);
  EXPECT_EQ(svg.str().substr(svg.str().size() - 7), "</svg>\n");
  EXPECT_TRUE(std::filesystem::exists(files.first));
  std::filesystem::remove_all(dir);
  server.shutdown();
}

TEST(LoadTest, ErrorsAreCountedByStatus) {
  ServerConfig c = espeak_config();
  c.api_key = "secret";  // /health stays open; speech without the key is 401
  Server server(c, create_engine(EngineConfig{.model = "espeak", .n_threads = 1}));
  server.start();
  LoadTestOptions o;
  o.url = url_of(server);
  o.levels = {2};
  o.requests_per_level = 4;
  o.text_name = "ultra_short";
  const LoadTestReport r = run_loadtest(o);
  ASSERT_EQ(r.levels.size(), 1u);
  EXPECT_EQ(r.levels[0].requests, 4);
  EXPECT_EQ(r.levels[0].ok, 0);
  EXPECT_EQ(r.levels[0].errors.at("401"), 4);
  ASSERT_EQ(r.levels[0].error_examples.size(), 1u);
  EXPECT_EQ(r.levels[0].error_examples[0].rfind("401: ", 0), 0u);
  EXPECT_FALSE(r.levels[0].ttfc_ms.has_value());
  EXPECT_TRUE(to_json(r)["results"][0]["ttfc_ms"].is_null());
  EXPECT_THROW(loadtest_svg(r), InvalidArgument);  // nothing to plot
  o.api_key = "secret";
  const LoadTestReport ok = run_loadtest(o);
  EXPECT_EQ(ok.levels[0].ok, 4);
  server.shutdown();
}

// ws://: one WebSocket context per request, the whole text with continue: false; audio frames
// until `done`.
TEST(LoadTest, WebSocketRampAgainstEspeakServer) {
  Server server(espeak_config(), create_engine(EngineConfig{.model = "espeak", .n_threads = 1}));
  server.start();
  LoadTestOptions o;
  o.url = "ws://127.0.0.1:" + std::to_string(server.port());
  o.levels = {1, 2};
  o.requests_per_level = 3;
  o.text_name = "short";  // two sentences: two segments of one context
  const LoadTestReport r = run_loadtest(o);
  ASSERT_EQ(r.levels.size(), 2u);
  for (const LevelResult& l : r.levels) {
    EXPECT_EQ(l.requests, 3);
    EXPECT_EQ(l.ok, 3) << (l.error_examples.empty() ? "" : l.error_examples[0]);
    ASSERT_TRUE(l.ttfc_ms && l.latency_ms && l.rtf && l.inter_chunk_gap_ms);
    EXPECT_GT(l.ttfc_ms->min, 0.0);
    EXPECT_LT(l.ttfc_ms->max, l.latency_ms->max);
    EXPECT_GT(l.rtf->mean, 0.0);
    EXPECT_LT(l.rtf->mean, 5.0);
  }
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(j["configuration"]["transport"], "websocket");
  EXPECT_EQ(j["configuration"]["endpoint"], "/v1/stream");

  // The same text over HTTP gives the same amount of audio (espeak's is not sample-exact, but
  // its length depends on the text only).
  o.url = url_of(server);
  o.levels = {1};
  const LoadTestReport http_run = run_loadtest(o);
  ASSERT_EQ(http_run.levels[0].ok, 3);
  const double ws_audio =
      r.levels[0].rtf->mean > 0 ? r.levels[0].latency_ms->mean / r.levels[0].rtf->mean : 0;
  const double http_audio = http_run.levels[0].latency_ms->mean / http_run.levels[0].rtf->mean;
  EXPECT_NEAR(ws_audio, http_audio, 0.2 * http_audio);
  server.shutdown();
}

TEST(LoadTest, WebSocketErrorsAreCountedByStatus) {
  ServerConfig c = espeak_config();
  c.api_key = "secret";  // the upgrade without the key is refused with 401
  Server server(c, create_engine(EngineConfig{.model = "espeak", .n_threads = 1}));
  server.start();
  LoadTestOptions o;
  o.url = "ws://127.0.0.1:" + std::to_string(server.port());
  o.levels = {2};
  o.requests_per_level = 2;
  o.text_name = "ultra_short";
  const LoadTestReport r = run_loadtest(o);
  EXPECT_EQ(r.levels[0].ok, 0);
  EXPECT_EQ(r.levels[0].errors.at("401"), 2) << nlohmann::json(r.levels[0].errors).dump();
  o.api_key = "secret";
  EXPECT_EQ(run_loadtest(o).levels[0].ok, 2);
  server.shutdown();
}

}  // namespace
}  // namespace chatterd::serving
