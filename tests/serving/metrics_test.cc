// Instrumentation: histogram families and their exposition, the recent-requests ring, the new
// /metrics families and /optimization-status recent_requests after requests on the scripted
// engine, and `--trace` (events of the first requests written at shutdown).

#include "serving/metrics.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "chatterd/core/error.h"
#include "serving/http_client.h"
#include "serving/prometheus.h"
#include "serving/request_log.h"
#include "serving/test_server.h"

namespace chatterd::serving {
namespace {

using nlohmann::json;
using testing::parse_exposition;
using testing::request;
using testing::ScriptedServer;
using testing::wait_for;

TEST(ServingMetricsUnit, DeviceMemoryAlwaysAndGpuTelemetryOnlyWhereNvmlAnswered) {
  const Metrics m;
  EngineMemoryStats cpu;
  const testing::Exposition plain = parse_exposition(m.render(cpu));
  EXPECT_EQ(plain.value("chatterd_device_memory_bytes", {{"state", "in_use"}}), 0.0);
  EXPECT_EQ(plain.type.count("chatterd_gpu_memory_bytes"), 0u);  // no NVML: no made-up zeros

  EngineMemoryStats gpu;
  gpu.device_bytes_in_use = 3 << 20;
  gpu.device_bytes_cached = 1 << 20;
  gpu.device_peak_bytes_in_use = 5 << 20;
  gpu.gpu_telemetry = true;
  gpu.gpu_memory_used_bytes = 7 << 20;
  gpu.gpu_memory_total_bytes = 80 << 20;
  gpu.gpu_utilization_percent = 42;
  gpu.gpu_memory_utilization_percent = 17;
  const testing::Exposition e = parse_exposition(m.render(gpu));
  EXPECT_EQ(e.value("chatterd_device_memory_bytes", {{"state", "in_use"}}), 3 << 20);
  EXPECT_EQ(e.value("chatterd_device_memory_bytes", {{"state", "cached"}}), 1 << 20);
  EXPECT_EQ(e.value("chatterd_device_memory_peak_bytes", {}), 5 << 20);
  EXPECT_EQ(e.type.at("chatterd_gpu_memory_bytes"), "gauge");
  EXPECT_EQ(e.value("chatterd_gpu_memory_bytes", {{"state", "used"}}), 7 << 20);
  EXPECT_EQ(e.value("chatterd_gpu_memory_bytes", {{"state", "total"}}), 80 << 20);
  EXPECT_DOUBLE_EQ(e.value("chatterd_gpu_utilization_ratio", {{"unit", "sm"}}), 0.42);
  EXPECT_DOUBLE_EQ(e.value("chatterd_gpu_utilization_ratio", {{"unit", "memory"}}), 0.17);
}

// Device busy time per stage, in seconds, only where the engine runs something on a GPU; the
// request cache's counters only where there is one.
TEST(ServingMetricsUnit, DeviceBusyAndRequestCacheOnlyWhereTheEngineHasThem) {
  const Metrics m;
  const testing::Exposition plain = parse_exposition(m.render(EngineMemoryStats{}));
  EXPECT_EQ(plain.type.count("chatterd_device_busy_seconds_total"), 0u);
  EXPECT_EQ(plain.type.count("chatterd_request_cache_lookups_total"), 0u);

  EngineMemoryStats s;
  s.device_timing = true;
  s.device_t3_ms = 1500.0;
  s.device_t3_steps = 300;
  s.device_flow_ms = 250.0;
  s.device_flow_calls = 4;
  s.device_hift_ms = 125.0;
  s.device_hift_calls = 4;
  s.request_cache = true;
  s.request_cache_hits = 3;
  s.request_cache_misses = 5;
  s.request_cache_evictions = 1;
  s.request_cache_bytes = 4096;
  s.request_cache_entries = 4;
  const testing::Exposition e = parse_exposition(m.render(s));
  EXPECT_EQ(e.type.at("chatterd_device_busy_seconds_total"), "counter");
  EXPECT_DOUBLE_EQ(e.value("chatterd_device_busy_seconds_total", {{"stage", "t3"}}), 1.5);
  EXPECT_DOUBLE_EQ(e.value("chatterd_device_busy_seconds_total", {{"stage", "flow"}}), 0.25);
  EXPECT_DOUBLE_EQ(e.value("chatterd_device_busy_seconds_total", {{"stage", "hift"}}), 0.125);
  EXPECT_EQ(e.value("chatterd_device_calls_total", {{"stage", "t3"}}), 300);
  EXPECT_EQ(e.value("chatterd_device_calls_total", {{"stage", "hift"}}), 4);
  EXPECT_EQ(e.type.at("chatterd_request_cache_lookups_total"), "counter");
  EXPECT_EQ(e.value("chatterd_request_cache_lookups_total", {{"result", "hit"}}), 3);
  EXPECT_EQ(e.value("chatterd_request_cache_lookups_total", {{"result", "miss"}}), 5);
  EXPECT_EQ(e.value("chatterd_request_cache_evictions_total", {}), 1);
  EXPECT_EQ(e.value("chatterd_request_cache_bytes", {}), 4096);
  EXPECT_EQ(e.value("chatterd_request_cache_entries", {}), 4);
}

TEST(ServingMetricsUnit, HistogramFamilyRendersOneSeriesPerLabel) {
  HistogramFamily f("stage", {0.1, 1.0});
  f.observe("t3_decode", 0.05);
  f.observe("t3_decode", 0.5);
  f.observe("hift", 2.0);
  std::string out;
  f.render(out, "x_seconds", "help text");
  const testing::Exposition e = parse_exposition(out);
  EXPECT_EQ(e.type.at("x_seconds"), "histogram");
  EXPECT_EQ(e.count("x_seconds", {{"stage", "t3_decode"}}), 2);
  EXPECT_EQ(e.count("x_seconds", {{"stage", "hift"}}), 1);
  EXPECT_EQ(e.value("x_seconds_bucket", {{"stage", "t3_decode"}, {"le", "0.1"}}), 1);
  EXPECT_EQ(e.value("x_seconds_bucket", {{"stage", "hift"}, {"le", "1"}}), 0);
  EXPECT_EQ(e.value("x_seconds_bucket", {{"stage", "hift"}, {"le", "+Inf"}}), 1);
  EXPECT_DOUBLE_EQ(e.value("x_seconds_sum", {{"stage", "t3_decode"}}), 0.55);
  EXPECT_EQ(f.count("t3_decode"), 2u);
  EXPECT_EQ(f.count("nope"), 0u);
}

TEST(ServingMetricsUnit, HistogramFamilyIsCapped) {
  HistogramFamily f("stage", {1.0});
  for (std::size_t i = 0; i < HistogramFamily::kMaxSeries + 5; ++i) {
    f.observe(fmt::format("s{}", i), 0.5);  // (GCC 12 -Wrestrict trips on "s" + string)
  }
  EXPECT_EQ(f.count("s0"), 1u);
  EXPECT_EQ(f.count(fmt::format("s{}", HistogramFamily::kMaxSeries)), 0u);  // dropped
}

TEST(ServingMetricsUnit, MaxGaugeFamilyKeepsTheLargestValuePerLabel) {
  MaxGaugeFamily f("stage");
  f.raise("hift", 300);
  f.raise("hift", 200);  // lower: kept at 300
  f.raise("t3_decode", 100);
  f.raise("t3_decode", 400);
  std::string out;
  f.render(out, "x_bytes", "help text");
  const testing::Exposition e = parse_exposition(out);
  EXPECT_EQ(e.type.at("x_bytes"), "gauge");
  EXPECT_EQ(e.value("x_bytes", {{"stage", "hift"}}), 300);
  EXPECT_EQ(e.value("x_bytes", {{"stage", "t3_decode"}}), 400);
  const auto values = f.values();
  EXPECT_EQ(values.size(), 2u);
  EXPECT_EQ(values.at("hift"), 300);
  for (std::size_t i = 0; i < MaxGaugeFamily::kMaxSeries + 5; ++i) {
    f.raise(fmt::format("s{}", i), 1);
  }
  EXPECT_EQ(f.values().size(), MaxGaugeFamily::kMaxSeries);  // capped
}

TEST(ServingMetricsUnit, RequestLogKeepsTheLastRecordsOldestFirst) {
  RequestLog log(4);
  EXPECT_EQ(json::parse(log.to_json()), json::array());
  for (std::uint64_t i = 0; i < 6; ++i) log.add(RequestRecord{.id = i});
  const std::vector<RequestRecord> r = log.snapshot();
  ASSERT_EQ(r.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(r[i].id, i + 2);
  EXPECT_EQ(log.total(), 6u);
  const json j = json::parse(log.to_json());
  ASSERT_EQ(j.size(), 4u);
  EXPECT_EQ(j[0]["id"], 2);
  EXPECT_EQ(j[0]["status"], "ok");
  EXPECT_TRUE(j[0]["first_chunk_ms"].is_null());  // no chunk
  EXPECT_THROW(RequestLog(0), InvalidArgument);
}

TEST(ServingMetricsUnit, RequestLogTakesConcurrentWriters) {
  RequestLog log;
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&log] {
      for (int i = 0; i < 500; ++i) {
        log.add(RequestRecord{.chunks = 1});
        if (i % 50 == 0) {
          EXPECT_LE(log.snapshot().size(), RequestLog::kCapacity);
        }
      }
    });
  }
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(log.total(), 2000u);
  EXPECT_EQ(log.snapshot().size(), RequestLog::kCapacity);
}

// One non-streamed and one streamed request (3 chunks each) on the scripted engine, which reports
// two stages and token timing.
TEST(ServingMetrics, NewFamiliesAfterRequestsOnTheFakeEngine) {
  ScriptedServer fs([](testing::FakeEngine&) {});
  ASSERT_EQ(request(fs.port(), http::verb::post, "/synthesize", R"({"text":"one"})").status, 200);
  ASSERT_EQ(request(fs.port(), http::verb::post, "/synthesize",
                    R"({"text":"two","streaming":true,"response_format":"pcm"})")
                .status,
            200);
  // Booked after the last write completes, which may be after the client read it.
  Metrics& m = fs.server->metrics();
  ASSERT_TRUE(wait_for([&] { return m.in_flight.load() == 0 && m.chunk_delivery.count() == 3; }))
      << m.chunk_delivery.count();
  const auto r = request(fs.port(), http::verb::get, "/metrics");
  ASSERT_EQ(r.status, 200);
  const testing::Exposition e = parse_exposition(r.body);
  for (const char* family :
       {"chatterd_stage_duration_seconds", "chatterd_time_to_first_token_seconds",
        "chatterd_decode_token_seconds", "chatterd_decode_tokens_per_second",
        "chatterd_chunk_gap_seconds", "chatterd_chunk_delivery_seconds", "chatterd_batch_size",
        "chatterd_request_duration_seconds"}) {
    EXPECT_EQ(e.type.count(family), 1u) << family;
    EXPECT_EQ(e.type.at(family), "histogram") << family;
  }
  EXPECT_EQ(e.type.at("chatterd_speech_tokens_total"), "counter");
  // The fake measures its decode stage's peak resident set only: no series for the prefill.
  EXPECT_EQ(e.type.at("chatterd_stage_peak_resident_bytes"), "gauge");
  EXPECT_EQ(e.value("chatterd_stage_peak_resident_bytes", {{"stage", "fake_decode"}}),
            testing::FakeEngine::kDecodePeakRssBytes);
  EXPECT_EQ(e.value("chatterd_stage_peak_resident_bytes", {{"stage", "fake_prefill"}}), -1);
  EXPECT_EQ(e.count("chatterd_stage_duration_seconds", {{"stage", "fake_prefill"}}), 2);
  EXPECT_EQ(e.count("chatterd_stage_duration_seconds", {{"stage", "fake_decode"}}), 2);
  EXPECT_DOUBLE_EQ(e.value("chatterd_stage_duration_seconds_sum", {{"stage", "fake_decode"}}),
                   0.0012);
  EXPECT_EQ(e.count("chatterd_time_to_first_token_seconds"), 2);
  EXPECT_EQ(e.count("chatterd_decode_token_seconds"), 2);
  // 3 steps in 0.6 ms: 0.2 ms per token, 5000 tokens/s.
  EXPECT_NEAR(e.value("chatterd_decode_token_seconds_sum"), 2 * 0.0002, 1e-12);
  EXPECT_NEAR(e.value("chatterd_decode_tokens_per_second_sum"), 2 * 5000.0, 1e-6);
  EXPECT_EQ(e.count("chatterd_chunk_gap_seconds"), 2);  // the streamed one: 3 chunks, 2 gaps
  EXPECT_EQ(e.count("chatterd_chunk_delivery_seconds"), 3);
  EXPECT_EQ(e.count("chatterd_batch_size"), 0);  // the fake engine does not batch
  EXPECT_EQ(e.value("chatterd_speech_tokens_total"), 8);
  EXPECT_EQ(e.count("chatterd_time_to_first_audio_seconds"), 2);
  EXPECT_EQ(e.count("chatterd_queue_wait_seconds"), 2);
  // Whole jobs, admission to end: each at least its own queue wait.
  EXPECT_EQ(e.count("chatterd_request_duration_seconds", {{"outcome", "ok"}}), 2);
  EXPECT_GE(e.value("chatterd_request_duration_seconds_sum", {{"outcome", "ok"}}),
            e.value("chatterd_queue_wait_seconds_sum"));
}

TEST(ServingMetrics, RecentRequestsInOptimizationStatus) {
  ScriptedServer fs([](testing::FakeEngine& e) { e.gated = true; },
                    [](ServerConfig& c) { c.max_queue = 1; });
  auto held = std::async(std::launch::async, [&] {
    return request(fs.port(), http::verb::post, "/synthesize",
                   R"({"text":"held one","streaming":true})");
  });
  fs.engine->wait_started();
  EXPECT_EQ(request(fs.port(), http::verb::post, "/synthesize", R"({"text":"x"})").status, 429);
  fs.engine->open_gate();
  ASSERT_EQ(held.get().status, 200);
  // The worker frees the held one's slot just after handing its reply over.
  ASSERT_TRUE(wait_for([&] { return fs.server->metrics().queue_depth.load() == 0; }));
  ASSERT_EQ(request(fs.port(), http::verb::post, "/synthesize", R"({"text":"after"})").status, 200);
  ASSERT_TRUE(wait_for([&] { return fs.server->metrics().recent_requests.total() == 3; }));
  const json j = json::parse(request(fs.port(), http::verb::get, "/optimization-status").body);
  const json& recent = j.at("recent_requests");
  ASSERT_EQ(recent.size(), 3u) << recent.dump();
  // Booked when each ended: the refusal first, then the held request, then the last one.
  EXPECT_EQ(recent[0]["status"], "refused");
  EXPECT_TRUE(recent[0]["id"].is_null());
  EXPECT_EQ(recent[0]["running_at_arrival"], 1);
  EXPECT_EQ(recent[0]["chunks"], 0);
  const json& held_rec = recent[1];
  EXPECT_EQ(held_rec["status"], "ok");
  EXPECT_EQ(held_rec["id"], 0);
  EXPECT_EQ(held_rec["streamed"], true);
  EXPECT_EQ(held_rec["chunks"], 3);
  EXPECT_EQ(held_rec["text_chars"], 8);
  EXPECT_EQ(held_rec["running_at_arrival"], 0);
  EXPECT_NEAR(held_rec["audio_seconds"].get<double>(), 0.3, 1e-9);
  EXPECT_GE(held_rec["queue_wait_ms"].get<double>(), 0.0);
  EXPECT_LE(held_rec["first_chunk_ms"].get<double>(), held_rec["total_ms"].get<double>());
  EXPECT_GT(held_rec["arrival_unix_s"].get<double>(), 1.7e9);
  EXPECT_EQ(recent[2]["id"], 1);
  EXPECT_GT(j.at("memory").at("resident_bytes").get<std::int64_t>(), 0);
  EXPECT_EQ(j.at("memory").at("stage_peak_resident_bytes"),
            json({{"fake_decode", testing::FakeEngine::kDecodePeakRssBytes}}));
  EXPECT_EQ(recent[2]["streamed"], false);
  EXPECT_EQ(recent[2]["status"], "ok");
  EXPECT_GE(recent[2]["arrival_unix_s"].get<double>(), held_rec["arrival_unix_s"].get<double>());
  // The duration histogram books the same two jobs' totals; the refused one never ran.
  const testing::Exposition e =
      parse_exposition(request(fs.port(), http::verb::get, "/metrics").body);
  EXPECT_EQ(e.count("chatterd_request_duration_seconds", {{"outcome", "ok"}}), 2);
  EXPECT_EQ(e.count("chatterd_request_duration_seconds", {{"outcome", "refused"}}), -1);
  EXPECT_NEAR(e.value("chatterd_request_duration_seconds_sum", {{"outcome", "ok"}}),
              (held_rec["total_ms"].get<double>() + recent[2]["total_ms"].get<double>()) / 1000.0,
              1e-6);
}

// A job cancelled by its client is booked under its own outcome.
TEST(ServingMetrics, RequestDurationCountsCancelledJobsByOutcome) {
  ScriptedServer fs([](testing::FakeEngine& e) { e.gated = true; });
  {
    net::io_context ioc;
    tcp::socket socket = testing::connect(fs.port(), ioc);
    testing::send_request(socket, http::verb::post, "/synthesize",
                          R"({"text":"left early","streaming":true})");
    fs.engine->wait_started();
  }  // the client leaves while the job is held after its first chunk
  Metrics& m = fs.server->metrics();
  // The server noticed (its request ended without a status) before the job may go on.
  ASSERT_TRUE(wait_for([&] { return m.responses(0) == 1; }));
  fs.engine->open_gate();
  ASSERT_TRUE(wait_for([&] { return m.request_duration.count("cancelled") == 1; }))
      << m.recent_requests.to_json();
  EXPECT_EQ(m.request_duration.count("ok"), 0u);
  const testing::Exposition e =
      parse_exposition(request(fs.port(), http::verb::get, "/metrics").body);
  EXPECT_EQ(e.count("chatterd_request_duration_seconds", {{"outcome", "cancelled"}}), 1);
  EXPECT_GT(e.value("chatterd_request_duration_seconds_bucket",
                    {{"outcome", "cancelled"}, {"le", "+Inf"}}),
            0);
}

TEST(ServingConfig, TraceKeys) {
  ServerConfig c;
  apply_config_json(c, R"({"trace": "/tmp/t.json", "trace_requests": 5})", "test");
  EXPECT_EQ(c.trace_file, "/tmp/t.json");
  EXPECT_EQ(c.trace_requests, 5);
  apply_config_env(c, [](const char* name) -> const char* {
    return std::string_view(name) == "CHATTERD_TRACE_REQUESTS" ? "7" : nullptr;
  });
  EXPECT_EQ(c.trace_requests, 7);
  EXPECT_EQ(json::parse(c.to_json())["trace"], "/tmp/t.json");
  c.validate();
  c.trace_requests = 0;
  EXPECT_THROW(c.validate(), InvalidArgument);
  EXPECT_EQ(flag_name("trace_requests"), "--trace-requests");
}

TEST(ServingTrace, UnwritableTraceFileStopsStartUp) {
  ServerConfig c = testing::loopback_config();
  c.trace_file = "/nonexistent-dir/trace.json";
  EXPECT_THROW({ const Server s(c, std::make_unique<testing::FakeEngine>()); }, IoError);
}

// Events of the first trace_requests syntheses, well-formed and nested, written at shutdown.
TEST(ServingTrace, TracesTheFirstRequestsAndWritesThemAtShutdown) {
  const std::string path = ::testing::TempDir() + "/chatterd_serving_trace.json";
  std::filesystem::remove(path);
  ScriptedServer fs([](testing::FakeEngine&) {},
                    [&](ServerConfig& c) {
                      c.trace_file = path;
                      c.trace_requests = 2;
                    });
  ASSERT_NE(fs.server->tracer(), nullptr);
  for (const char* body : {R"({"text":"a","streaming":true})", R"({"text":"b"})",
                           R"({"text":"c","streaming":true})"}) {
    ASSERT_EQ(request(fs.port(), http::verb::post, "/synthesize", body).status, 200);
  }
  fs.server->shutdown();
  std::ifstream in(path);
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  const json j = json::parse(text.str());
  std::map<std::string, int> names;
  std::map<double, json> requests, syntheses;
  for (const json& e : j.at("traceEvents")) {
    ASSERT_EQ(e.at("ph"), "X") << e.dump();
    ASSERT_TRUE(e.at("ts").is_number_integer()) << e.dump();
    ASSERT_TRUE(e.at("dur").is_number_integer()) << e.dump();
    ASSERT_GE(e.at("dur").get<std::int64_t>(), 0);
    ASSERT_TRUE(e.at("name").is_string());
    ASSERT_TRUE(e.at("tid").is_number_integer());
    ++names[e.at("name").get<std::string>()];
    const double id = e.at("args").at("id").get<double>();
    if (e["name"] == "request") requests[id] = e;
    if (e["name"] == "synthesize") syntheses[id] = e;
  }
  EXPECT_EQ(names["request"], 2);  // the third request is past trace_requests
  EXPECT_EQ(names["queue_wait"], 2);
  EXPECT_EQ(names["synthesize"], 2);
  EXPECT_EQ(names["fake_prefill"], 2);
  EXPECT_EQ(names["fake_decode"], 2);
  EXPECT_EQ(names["chunk"], 6);
  ASSERT_EQ(requests.size(), 2u);
  for (const auto& [id, req] : requests) {
    const json& syn = syntheses.at(id);
    EXPECT_GE(syn["ts"].get<std::int64_t>(), req["ts"].get<std::int64_t>());
    EXPECT_LE(syn["ts"].get<std::int64_t>() + syn["dur"].get<std::int64_t>(),
              req["ts"].get<std::int64_t>() + req["dur"].get<std::int64_t>());
    EXPECT_EQ(req["args"]["chunks"], 3);
    EXPECT_EQ(req["args"]["ok"], 1);
  }
  EXPECT_EQ(j["otherData"]["dropped"], 0);
}

}  // namespace
}  // namespace chatterd::serving
