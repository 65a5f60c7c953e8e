// /optimization-status, /configure-streaming, /v1/voices on an engine that cannot clone, the
// layered configuration, and cancellation of a non-streamed request whose client left.

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "chatterd/core/error.h"
#include "serving/api_request.h"
#include "serving/http_client.h"
#include "serving/http_session.h"
#include "serving/test_server.h"

namespace chatterd::serving {
namespace {

using nlohmann::json;
using testing::request;
using testing::ScriptedServer;
using testing::wait_for;

TEST(ServingStatus, OptimizationStatusReportsConfigEngineQueueAndCounters) {
  ScriptedServer fs([](testing::FakeEngine&) {}, [](ServerConfig& c) { c.api_key = "k"; });
  const http::fields auth = [] {
    http::fields f;
    f.set(http::field::authorization, "Bearer k");
    return f;
  }();
  ASSERT_EQ(request(fs.port(), http::verb::post, "/synthesize", R"({"text":"x"})", auth).status,
            200);
  // The worker lowers the queue depth just after handing the reply over.
  // (and counts the response once its write completed): wait for both.
  ASSERT_TRUE(wait_for([&] {
    return fs.server->metrics().queue_depth.load() == 0 && fs.server->metrics().responses(200) == 1;
  }));
  const auto r = request(fs.port(), http::verb::get, "/optimization-status", "", auth);
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = json::parse(r.body);
  EXPECT_EQ(j["config"]["api_key"], "set");  // redacted
  EXPECT_EQ(j["config"]["max_queue"], 8);
  EXPECT_EQ(j["engine"]["name"], "fake");
  EXPECT_EQ(j["engine"]["voices"], json::array({"v1"}));
  EXPECT_EQ(j["engine"]["can_clone"], false);
  EXPECT_EQ(j["scheduler"]["max_queue"], 8);
  EXPECT_EQ(j["scheduler"]["queue_depth"], 0);
  EXPECT_EQ(j["streams"]["active"], 0);
  EXPECT_GE(j["connections"]["open"].get<int>(), 1);  // this request's own (and maybe the last)
  EXPECT_EQ(j["connections"]["max"], 512);
  EXPECT_EQ(j["connections"]["max_per_ip"], 64);
  EXPECT_EQ(j["connections"]["refused_per_ip"], 0);
  EXPECT_EQ(j["counters"]["slow_clients"], 0);
  EXPECT_EQ(j["streaming"]["chunk_size"], 50);
  EXPECT_EQ(j["counters"]["responses"]["200"], 1);
  EXPECT_GT(j["counters"]["audio_seconds"].get<double>(), 0.0);
  EXPECT_EQ(request(fs.port(), http::verb::get, "/optimization-status").status, 401);
}

// The request cache is on by default: an identical seeded request replays the stored audio (the
// engine runs once), unseeded ones always synthesise, and /metrics counts both.
TEST(ServingRequestCache, SeededRepeatsReplayAndUnseededSynthesise) {
  ScriptedServer fs([](testing::FakeEngine& e) { e.text_valued = true; });
  const auto post = [&](const std::string& body) {
    return request(fs.port(), http::verb::post, "/synthesize", body);
  };
  const testing::Reply first = post(R"({"text":"hello","seed":7})");
  ASSERT_EQ(first.status, 200) << first.body;
  const testing::Reply again = post(R"({"text":"hello","seed":7})");
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(fs.engine->calls.load(), 1);
  ASSERT_EQ(post(R"({"text":"hello","seed":8})").status, 200);  // another seed: another request
  ASSERT_EQ(post(R"({"text":"hello"})").status, 200);
  ASSERT_EQ(post(R"({"text":"hello"})").status, 200);
  EXPECT_EQ(fs.engine->calls.load(), 4);
  const std::string metrics = request(fs.port(), http::verb::get, "/metrics").body;
  EXPECT_NE(metrics.find("chatterd_request_cache_lookups_total{result=\"hit\"} 1\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("chatterd_request_cache_lookups_total{result=\"miss\"} 2\n"),
            std::string::npos);
  EXPECT_NE(metrics.find("chatterd_request_cache_entries 2\n"), std::string::npos);
  // The replay is no synthesis: the latency histograms hold the four that ran.
  EXPECT_NE(metrics.find("chatterd_real_time_factor_count 4\n"), std::string::npos);
  EXPECT_NE(metrics.find("chatterd_time_to_first_audio_seconds_count 4\n"), std::string::npos);
  const json status = json::parse(request(fs.port(), http::verb::get, "/optimization-status").body);
  EXPECT_EQ(status["memory"]["request_cache"]["hits"], 1);
  EXPECT_EQ(status["memory"]["request_cache"]["entries"], 2);
}

TEST(ServingRequestCache, ZeroBudgetTurnsItOff) {
  ScriptedServer fs([](testing::FakeEngine&) {}, [](ServerConfig& c) { c.request_cache_mb = 0; });
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(
        request(fs.port(), http::verb::post, "/synthesize", R"({"text":"x","seed":1})").status,
        200);
  }
  EXPECT_EQ(fs.engine->calls.load(), 2);
  const std::string metrics = request(fs.port(), http::verb::get, "/metrics").body;
  EXPECT_EQ(metrics.find("chatterd_request_cache"), std::string::npos);
  ServerConfig c;
  c.request_cache_mb = -1;
  EXPECT_THROW(c.validate(), InvalidArgument);
}

TEST(ServingStatus, ConfigureStreamingValidatesAndAppliesToLaterRequests) {
  ScriptedServer fs([](testing::FakeEngine&) {});
  const auto post = [&](const std::string& body) {
    return request(fs.port(), http::verb::post, "/configure-streaming", body);
  };
  const auto ok = post(R"({"chunk_size": 30, "max_speech_tokens": 40})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::parse(ok.body), json::parse(R"({"chunk_size":30,"max_speech_tokens":40})"));
  EXPECT_EQ(post(R"({"chunk_size": 24})").status, 400);
  EXPECT_EQ(post(R"({"chunk_size": "30"})").status, 400);
  EXPECT_EQ(post(R"({"max_speech_tokens": 99999})").status, 400);
  const auto typo = post(R"({"chunk_sise": 30})");
  EXPECT_EQ(typo.status, 400);
  EXPECT_NE(typo.body.find("unknown setting 'chunk_sise'"), std::string::npos) << typo.body;
  EXPECT_EQ(post("[").status, 400);
  EXPECT_EQ(request(fs.port(), http::verb::get, "/configure-streaming").status, 405);
  const json status = json::parse(request(fs.port(), http::verb::get, "/optimization-status").body);
  EXPECT_EQ(status["streaming"]["chunk_size"], 30);  // the refused posts changed nothing
  EXPECT_EQ(status["streaming"]["max_speech_tokens"], 40);
}

TEST(ServingVoices, ListAndRefusedUploadOnAnEngineThatCannotClone) {
  ScriptedServer fs([](testing::FakeEngine&) {});
  const auto list = request(fs.port(), http::verb::get, "/v1/voices");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(json::parse(list.body),
            json::parse(R"({"can_clone":false,"voices":[{"default":true,"name":"v1"}]})"));
  const auto up = request(fs.port(), http::verb::post, "/v1/voices?name=me", "RIFF....");
  EXPECT_EQ(up.status, 400);
  EXPECT_NE(up.body.find("cannot clone"), std::string::npos) << up.body;
  EXPECT_EQ(request(fs.port(), http::verb::delete_, "/v1/voices").status, 405);
}

TEST(ServingHttpQuery, QueryParamDecodes) {
  EXPECT_EQ(query_param("/v1/voices?name=a%20b+c&x=1", "name"), "a b c");
  EXPECT_EQ(query_param("/v1/voices?x=1&name=z", "name"), "z");
  EXPECT_EQ(query_param("/v1/voices?name=%zz", "name"), std::nullopt);
  EXPECT_EQ(query_param("/v1/voices?name=%4", "name"), std::nullopt);
  EXPECT_EQ(query_param("/v1/voices", "name"), std::nullopt);
}

TEST(ServingHttpFakeDisconnect, NonStreamedRequestIsCancelledWhenTheClientLeaves) {
  ScriptedServer fs([](testing::FakeEngine& e) {
    e.gated = true;
    e.n_chunks = 20;
  });
  {
    net::io_context ioc;
    tcp::socket s = testing::connect(fs.port(), ioc);
    testing::send_request(s, http::verb::post, "/synthesize", R"({"text":"x"})");
    fs.engine->wait_started();
  }  // closed
  // The server sees the EOF while the engine is still held, and the queue moves on.
  ASSERT_TRUE(wait_for([&] { return fs.server->metrics().responses(0) == 1; }));
  fs.engine->open_gate();
  EXPECT_TRUE(wait_for([&] { return fs.engine->cancellations.load() == 1; }));
  const auto next = request(fs.port(), http::verb::post, "/synthesize", R"({"text":"short"})");
  EXPECT_EQ(next.status, 200);
}

TEST(ServingHttpFakeDisconnect, StreamedRequestIsCancelledWithinOneChunkOfTheClientLeaving) {
  ScriptedServer fs([](testing::FakeEngine& e) {
    e.gated = true;
    e.n_chunks = 20;
  });
  {
    net::io_context ioc;
    tcp::socket s = testing::connect(fs.port(), ioc);
    testing::send_request(s, http::verb::post, "/synthesize", R"({"text":"x","streaming":true})");
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> head;
    http::read_header(s, buffer, head);
    ASSERT_EQ(head.get().result_int(), 200u);
    fs.engine->wait_started();  // chunk 0 is out; the engine holds before chunk 1
  }                             // closed
  // Noticed while the engine is held, with no write to fail: the watch read sees the EOF.
  ASSERT_TRUE(wait_for([&] { return fs.server->metrics().responses(0) == 1; }));
  EXPECT_TRUE(wait_for([&] { return fs.server->metrics().active_streams.load() == 0; }));
  fs.engine->open_gate();
  // Chunk 1 is the last one computed: its callback already says stop.
  EXPECT_TRUE(wait_for([&] { return fs.engine->cancellations.load() == 1; }));
  EXPECT_EQ(request(fs.port(), http::verb::post, "/synthesize", R"({"text":"short"})").status, 200);
}

TEST(ServingHttpFakeDisconnect, StreamedResponsesAndPipelinedRequestsShareOneConnection) {
  ScriptedServer fs([](testing::FakeEngine&) {});
  net::io_context ioc;
  tcp::socket s = testing::connect(fs.port(), ioc);
  // Both requests at once: the second arrives while the first streams (the watch keeps it).
  testing::send_request(s, http::verb::post, "/synthesize", R"({"text":"x","streaming":true})");
  testing::send_request(s, http::verb::post, "/synthesize",
                        R"({"text":"y","streaming":true,"response_format":"pcm"})");
  beast::flat_buffer buffer;
  const auto first = testing::read_reply(s, buffer);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body.size(), 44u + 3u * 4800u);
  const auto second = testing::read_reply(s, buffer);
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.body.size(), 3u * 4800u);
  // A bad streamed request and a plain one after the streams, on the same connection.
  testing::send_request(s, http::verb::post, "/synthesize", R"({"text":"","streaming":true})");
  EXPECT_EQ(testing::read_reply(s, buffer).status, 400);
  testing::send_request(s, http::verb::get, "/health", "");
  EXPECT_EQ(testing::read_reply(s, buffer).status, 200);
}

TEST(ServingHttpFakeDisconnect, PipelinedRequestIsKeptWhileWatching) {
  ScriptedServer fs([](testing::FakeEngine&) {});
  net::io_context ioc;
  tcp::socket s = testing::connect(fs.port(), ioc);
  testing::send_request(s, http::verb::post, "/synthesize", R"({"text":"x"})");
  testing::send_request(s, http::verb::get, "/health", "");
  beast::flat_buffer buffer;
  EXPECT_EQ(testing::read_reply(s, buffer).status, 200);
  const auto health = testing::read_reply(s, buffer);
  EXPECT_EQ(health.status, 200);
  EXPECT_NE(health.body.find("\"ok\""), std::string::npos);
}

// ---- configuration ----

TEST(ServingConfigLayers, FileThenEnvironmentThenFlags) {
  ServerConfig c;
  apply_config_json(c, R"({"port": 9000, "max_queue": 3, "model": "espeak:en-us", "timeout": 7})",
                    "file");
  EXPECT_EQ(c.port, 9000);
  EXPECT_EQ(c.max_queue, 3u);
  EXPECT_EQ(c.request_timeout.count(), 7);
  const std::map<std::string, std::string> env{{"CHATTERD_MAX_QUEUE", "5"},
                                               {"CHATTERD_API_KEY", "secret"},
                                               {"CHATTERD_PORT", ""}};  // empty: not set
  apply_config_env(c, [&](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  EXPECT_EQ(c.max_queue, 5u);  // env beats the file
  EXPECT_EQ(c.port, 9000);
  EXPECT_EQ(c.api_key, "secret");
  set_config_value(c, "max_queue", "6", "flag --max-queue");  // flags beat both
  EXPECT_EQ(c.max_queue, 6u);
  EXPECT_EQ(c.model, "espeak:en-us");
  const std::string shown = c.to_string();
  EXPECT_NE(shown.find("api_key = set"), std::string::npos);
  EXPECT_EQ(shown.find("secret"), std::string::npos);
  EXPECT_NE(shown.find("max_queue = 6"), std::string::npos);
  EXPECT_EQ(env_name("max_speech_tokens"), "CHATTERD_MAX_SPEECH_TOKENS");
  EXPECT_EQ(flag_name("max_speech_tokens"), "--max-speech-tokens");
}

TEST(ServingConfigLayers, BadValuesNameTheirSource) {
  ServerConfig c;
  const auto message = [&](const auto& fn) {
    try {
      fn();
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] {
              apply_config_json(c, R"({"max_qeue": 3})", "file x");
            }).find("file x: unknown setting 'max_qeue'"),
            std::string::npos);
  EXPECT_NE(message([&] {
              apply_config_json(c, R"({"port": "80a"})", "file x");
            }).find("port must be an integer"),
            std::string::npos);
  EXPECT_NE(message([&] { apply_config_json(c, R"({"port": 1.5})", "f"); }).find("port"),
            std::string::npos);
  EXPECT_NE(message([&] { apply_config_json(c, R"({"port": 70000})", "f"); }).find("out of range"),
            std::string::npos);
  EXPECT_NE(message([&] { apply_config_json(c, "[1]", "f"); }).find("JSON object"),
            std::string::npos);
  EXPECT_NE(message([&] {
              set_config_value(c, "threads", "-", "environment CHATTERD_THREADS");
            }).find("environment CHATTERD_THREADS"),
            std::string::npos);
  ServerConfig bad;
  bad.default_chunk_tokens = 10;
  bad.max_speech_tokens = 99999;
  const std::string m = message([&] { bad.validate(); });
  EXPECT_NE(m.find("chunk_size"), std::string::npos) << m;
  EXPECT_NE(m.find("max_speech_tokens"), std::string::npos) << m;
}

}  // namespace
}  // namespace chatterd::serving
