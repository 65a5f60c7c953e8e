#pragma once
// `chatterd loadtest URL`: drives a running `chatterd serve` with a concurrency ramp and measures
// what a streaming client sees: time to first audio chunk, real-time factor, the gaps between
// chunks and their jitter, errors by status. Each level is bounded in requests and time.
// Transport from the URL's scheme: http:// posts /v1/audio/speech (stream, pcm) and reads the
// chunked body; ws:// opens a WebSocket on /v1/stream per request and sends the whole text as one
// context (`continue: false`), reading binary audio frames until the context's `done` event.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/bench_stats.h"
#include "pipeline/system_info.h"

namespace chatterd::serving {

struct LoadTestUrl {
  std::string host;
  std::string port = "80";
  std::string target = "/v1/audio/speech";  // the path given, if any ("/v1/stream" for ws)
  bool websocket = false;                   // ws:// scheme
};

// "http://HOST[:PORT][/PATH]", "ws://HOST[:PORT][/PATH]" or "HOST:PORT" (http). Throws
// InvalidArgument for other schemes (https, wss: no TLS) or a malformed URL.
LoadTestUrl parse_loadtest_url(std::string_view url);

struct LoadTestOptions {
  std::string url;                          // the server (see parse_loadtest_url)
  std::vector<int> levels{1, 3, 5, 8, 10};  // concurrent streams per level, in order
  int requests_per_level = 0;               // 0: max(5, 2 x concurrency)
  double level_seconds = 60.0;              // no new request starts after this; in-flight finish
  double request_timeout_seconds = 120.0;   // one request, connect to last byte
  std::string text_name = "short";          // a standard benchmark text (bench_texts.h)
  std::string voice;                        // "" = the server's default voice
  std::string api_key;                      // sent as Bearer when set
  std::string note;                         // stored in metadata.note
  void validate() const;                    // InvalidArgument listing the problem
};

// What one request saw.
struct RequestSample {
  int status = 0;  // HTTP status (WebSocket: 200, or an error event's status); 0: transport failed
  std::string error;                  // transport error or the error body (non-200)
  double ttfc_ms = 0.0;               // request start (before connect) to the first audio bytes
  double total_ms = 0.0;              // to the last byte
  double audio_ms = 0.0;              // PCM16 bytes received / sample rate
  std::vector<double> chunk_gaps_ms;  // between successive HTTP chunks / WebSocket audio frames
};

struct LevelResult {
  int concurrency = 0;
  std::int64_t requests = 0;                   // sent
  std::int64_t ok = 0;                         // 200 with audio
  std::map<std::string, std::int64_t> errors;  // "429": 3, "transport": 1, ...
  std::vector<std::string> error_examples;     // first message per kind
  bool time_bound_hit = false;  // the level stopped on level_seconds, not the request count
  double wall_s = 0.0;
  std::optional<bench::SampleSummary> ttfc_ms;  // over successful requests
  std::optional<bench::SampleSummary> latency_ms;
  std::optional<bench::SampleSummary> rtf;
  std::optional<bench::SampleSummary> inter_chunk_gap_ms;
  // |gap_i - gap_(i-1)| within each request (RFC 3550's spacing difference), over all requests.
  std::optional<bench::SampleSummary> jitter_ms;
  double audio_s_per_wall_s = 0.0;  // throughput: audio delivered per second of the level
};

struct LoadTestReport {
  std::string timestamp;
  std::string note;
  LoadTestOptions options;
  std::string server_model;  // /health "model"
  int sample_rate_hz = 0;    // /health "sample_rate"
  std::string text;
  bench::MachineInfo client;
  std::string chatterd_version;
  std::vector<LevelResult> levels;
};

// Progress lines; may be empty.
using LoadTestProgress = std::function<void(const std::string&)>;

// Checks /health first (IoError naming the URL when unreachable or not a chatterd server), then
// runs each level. Throws InvalidArgument for bad options.
LoadTestReport run_loadtest(const LoadTestOptions& options, const LoadTestProgress& progress = {});

// Schema: docs/benchmarks.md ("loadtest results").
nlohmann::json to_json(const LoadTestReport& report);
// The TTFC-vs-concurrency plot of the levels with successful requests (target 400 ms).
std::string loadtest_svg(const LoadTestReport& report);
// Writes <dir>/loadtest_<YYYYmmdd_HHMMSS>.json and .svg; returns {json, svg}.
std::pair<std::filesystem::path, std::filesystem::path> write_loadtest_outputs(
    const LoadTestReport& report, const std::filesystem::path& out_dir);

}  // namespace chatterd::serving
