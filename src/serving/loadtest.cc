#include "serving/loadtest.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

#include "core/check.h"
#include "core/stopwatch.h"
#include "pipeline/bench_json.h"
#include "pipeline/bench_report.h"
#include "pipeline/bench_svg.h"
#include "pipeline/bench_texts.h"
#include "serving/net.h"

namespace chatterd::serving {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// One HTTP exchange on its own io_context, every step bounded by `timeout` (Beast's tcp_stream
// timeouts apply to asynchronous operations only).
class Exchange {
 public:
  Exchange(const LoadTestUrl& url, std::chrono::milliseconds timeout)
      : url_(url), stream_(ioc_), timeout_(timeout) {}

  // Empty on success, else what failed.
  std::string connect() {
    beast::error_code ec;
    tcp::resolver resolver(ioc_);
    const auto endpoints = resolver.resolve(url_.host, url_.port, ec);
    if (ec) return "resolve " + url_.host + ": " + ec.message();
    stream_.expires_after(timeout_);
    stream_.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    run();
    return ec ? "connect " + url_.host + ":" + url_.port + ": " + ec.message() : std::string();
  }

  std::string send(http::verb verb, const std::string& target, const std::string& body,
                   const std::string& api_key) {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, url_.host);
    req.set(http::field::user_agent, "chatterd-loadtest");
    if (!api_key.empty()) req.set(http::field::authorization, "Bearer " + api_key);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    beast::error_code ec;
    http::async_write(stream_, req, [&](beast::error_code e, std::size_t) { ec = e; });
    run();
    return ec ? "write: " + ec.message() : std::string();
  }

  // Reads the response; the callbacks see chunked bodies as they arrive.
  std::string receive(http::response_parser<http::string_body>& parser) {
    beast::error_code ec;
    http::async_read(stream_, buffer_, parser, [&](beast::error_code e, std::size_t) { ec = e; });
    run();
    return ec ? "read: " + ec.message() : std::string();
  }

 private:
  void run() {
    ioc_.restart();
    ioc_.run();
  }

  LoadTestUrl url_;
  net::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::chrono::milliseconds timeout_;
};

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

struct Health {
  std::string model;
  int sample_rate_hz = 0;
};

Health check_health(const LoadTestUrl& url, const LoadTestOptions& o) {
  Exchange ex(url, to_ms(std::min(o.request_timeout_seconds, 10.0)));
  std::string err = ex.connect();
  if (err.empty()) err = ex.send(http::verb::get, "/health", "", o.api_key);
  http::response_parser<http::string_body> parser;
  if (err.empty()) err = ex.receive(parser);
  CHATTERD_CHECK(err.empty(), IoError, "loadtest: {}: server not reachable ({})", o.url, err);
  const auto& res = parser.get();
  CHATTERD_CHECK(res.result_int() == 200, IoError, "loadtest: {}/health answered {}: {}", o.url,
                 res.result_int(), res.body());
  Health h;
  try {
    const json j = json::parse(res.body());
    h.model = j.at("model").get<std::string>();
    h.sample_rate_hz = j.at("sample_rate").get<int>();
  } catch (const json::exception& e) {
    CHATTERD_THROW(IoError, "loadtest: {}/health is not a chatterd health reply ({}): {}", o.url,
                   e.what(), res.body());
  }
  CHATTERD_CHECK(h.sample_rate_hz > 0, IoError, "loadtest: {}/health: sample_rate {}", o.url,
                 h.sample_rate_hz);
  return h;
}

RequestSample one_request(const LoadTestUrl& url, const LoadTestOptions& o, const std::string& body,
                          int sample_rate_hz) {
  RequestSample s;
  const Clock::time_point t0 = Clock::now();
  Exchange ex(url, to_ms(o.request_timeout_seconds));
  std::string err = ex.connect();
  if (err.empty()) err = ex.send(http::verb::post, url.target, body, o.api_key);
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::uint64_t{1} << 31);
  std::vector<Clock::time_point> arrivals;
  bool have_audio = false;
  Clock::time_point t_first = t0;
  std::uint64_t bytes = 0;
  std::function<void(std::uint64_t, beast::string_view, beast::error_code&)> on_header =
      [&](std::uint64_t size, beast::string_view, beast::error_code&) {
        if (size > 0) arrivals.push_back(Clock::now());
      };
  std::function<std::size_t(std::uint64_t, beast::string_view, beast::error_code&)> on_body =
      [&](std::uint64_t, beast::string_view data, beast::error_code&) {
        if (!have_audio && !data.empty()) {
          have_audio = true;
          t_first = Clock::now();
        }
        bytes += data.size();
        return data.size();
      };
  parser.on_chunk_header(on_header);
  parser.on_chunk_body(on_body);
  if (err.empty()) err = ex.receive(parser);
  const Clock::time_point t_end = Clock::now();
  s.total_ms = ms_between(t0, t_end);
  if (parser.is_header_done()) s.status = static_cast<int>(parser.get().result_int());
  if (!err.empty()) {
    s.error = err;
    if (s.status == 200) s.status = -1;  // audio started, then the transfer broke
    return s;
  }
  if (s.status != 200) {
    s.error = parser.get().body();
    return s;
  }
  if (arrivals.empty()) {  // not chunked: the whole body at once
    bytes = parser.get().body().size();
    have_audio = bytes > 0;
    t_first = t_end;
  }
  if (!have_audio) {
    s.status = -2;
    s.error = "200 without audio";
    return s;
  }
  s.ttfc_ms = ms_between(t0, t_first);
  s.audio_ms = 1000.0 * static_cast<double>(bytes / 2) / static_cast<double>(sample_rate_hz);
  for (std::size_t i = 1; i < arrivals.size(); ++i) {
    s.chunk_gaps_ms.push_back(ms_between(arrivals[i - 1], arrivals[i]));
  }
  return s;
}

// One WebSocket context: connect, upgrade on url.target, send `message` (the whole text with
// continue: false), read audio frames ([u8 N][N bytes context_id][PCM16]) and events until the
// context's `done`; an `error` event ends it with its status. Every step is bounded by what is
// left of the request timeout.
RequestSample one_ws_request(const LoadTestUrl& url, const LoadTestOptions& o,
                             const std::string& message, int sample_rate_hz) {
  namespace websocket = beast::websocket;
  RequestSample s;
  const Clock::time_point t0 = Clock::now();
  const Clock::time_point deadline = t0 + to_ms(o.request_timeout_seconds);
  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws(ioc);
  beast::error_code ec;
  // The deadline is (re)armed before each operation starts: Beast refuses a new expiry while a
  // read and a write are both pending (a WebSocket close has both).
  const auto arm = [&] { beast::get_lowest_layer(ws).expires_at(deadline); };
  const auto run = [&] {
    ioc.restart();
    ioc.run();
  };
  tcp::resolver resolver(ioc);
  const auto endpoints = resolver.resolve(url.host, url.port, ec);
  if (ec) {
    s.error = "resolve " + url.host + ": " + ec.message();
    return s;
  }
  arm();
  beast::get_lowest_layer(ws).async_connect(
      endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  run();
  if (ec) {
    s.error = "connect " + url.host + ":" + url.port + ": " + ec.message();
    return s;
  }
  ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
    req.set(http::field::user_agent, "chatterd-loadtest");
    if (!o.api_key.empty()) req.set(http::field::authorization, "Bearer " + o.api_key);
  }));
  websocket::response_type upgrade;
  arm();
  ws.async_handshake(upgrade, url.host + ":" + url.port, url.target,
                     [&](beast::error_code e) { ec = e; });
  run();
  if (ec) {
    // A refused upgrade (401, 429, 503) still has its HTTP status.
    s.status = upgrade.result_int() != 101 ? static_cast<int>(upgrade.result_int()) : 0;
    s.error = "handshake: " + ec.message() + " " + upgrade.body();
    return s;
  }
  ws.text(true);
  arm();
  ws.async_write(net::buffer(message), [&](beast::error_code e, std::size_t) { ec = e; });
  run();
  if (ec) {
    s.error = "write: " + ec.message();
    return s;
  }
  beast::flat_buffer buffer;
  std::vector<Clock::time_point> arrivals;
  std::uint64_t bytes = 0;
  for (;;) {
    buffer.clear();
    arm();
    ws.async_read(buffer, [&](beast::error_code e, std::size_t) { ec = e; });
    run();
    if (ec) {
      s.error = "read: " + ec.message();
      s.status = arrivals.empty() ? 0 : -1;
      s.total_ms = ms_between(t0, Clock::now());
      return s;
    }
    const std::string_view data(static_cast<const char*>(buffer.data().data()),
                                buffer.data().size());
    if (ws.got_binary()) {
      const std::size_t header = data.empty() ? 0 : 1 + static_cast<unsigned char>(data[0]);
      if (data.size() > header) {
        arrivals.push_back(Clock::now());
        bytes += data.size() - header;
      }
      continue;
    }
    json event;
    try {
      event = json::parse(data);
    } catch (const json::exception&) {
      s.status = -3;
      s.error = "not JSON: " + std::string(data.substr(0, 200));
      return s;
    }
    const std::string type = event.value("type", "");
    if (type == "error") {
      s.status = event.value("status", 500);
      s.error = event.value("message", "");
      s.total_ms = ms_between(t0, Clock::now());
      return s;
    }
    if (type == "done") break;
  }
  s.total_ms = ms_between(t0, Clock::now());
  arm();
  ws.async_close(websocket::close_code::normal, [&](beast::error_code) {});
  run();
  if (arrivals.empty()) {
    s.status = -2;
    s.error = "done without audio";
    return s;
  }
  s.status = 200;
  s.ttfc_ms = ms_between(t0, arrivals.front());
  s.audio_ms = 1000.0 * static_cast<double>(bytes / 2) / static_cast<double>(sample_rate_hz);
  for (std::size_t i = 1; i < arrivals.size(); ++i) {
    s.chunk_gaps_ms.push_back(ms_between(arrivals[i - 1], arrivals[i]));
  }
  return s;
}

std::string error_kind(const RequestSample& s) {
  if (s.status == 0) return "transport";
  if (s.status == -1) return "truncated";
  if (s.status == -2) return "empty";
  if (s.status == -3) return "protocol";
  return std::to_string(s.status);
}

std::optional<bench::SampleSummary> maybe_summary(const std::vector<double>& v) {
  if (v.empty()) return std::nullopt;
  return bench::summarize(v);
}

LevelResult summarize_level(int concurrency, const std::vector<RequestSample>& samples,
                            double wall_s, bool time_bound_hit) {
  LevelResult l;
  l.concurrency = concurrency;
  l.requests = static_cast<std::int64_t>(samples.size());
  l.wall_s = wall_s;
  l.time_bound_hit = time_bound_hit;
  std::vector<double> ttfc, latency, rtf, gaps, jitter;
  double audio_ms = 0.0;
  for (const RequestSample& s : samples) {
    if (s.status != 200) {
      const std::string kind = error_kind(s);
      if (l.errors[kind]++ == 0) l.error_examples.push_back(kind + ": " + s.error.substr(0, 300));
      continue;
    }
    ++l.ok;
    ttfc.push_back(s.ttfc_ms);
    latency.push_back(s.total_ms);
    rtf.push_back(s.total_ms / s.audio_ms);
    audio_ms += s.audio_ms;
    gaps.insert(gaps.end(), s.chunk_gaps_ms.begin(), s.chunk_gaps_ms.end());
    for (std::size_t i = 1; i < s.chunk_gaps_ms.size(); ++i) {
      jitter.push_back(std::abs(s.chunk_gaps_ms[i] - s.chunk_gaps_ms[i - 1]));
    }
  }
  l.ttfc_ms = maybe_summary(ttfc);
  l.latency_ms = maybe_summary(latency);
  l.rtf = maybe_summary(rtf);
  l.inter_chunk_gap_ms = maybe_summary(gaps);
  l.jitter_ms = maybe_summary(jitter);
  l.audio_s_per_wall_s = wall_s > 0.0 ? audio_ms / 1000.0 / wall_s : 0.0;
  return l;
}

LevelResult run_level(const LoadTestOptions& o, int concurrency,
                      const std::function<RequestSample()>& one) {
  const int n_requests =
      o.requests_per_level > 0 ? o.requests_per_level : std::max(5, 2 * concurrency);
  std::atomic<int> next{0};
  std::atomic<bool> time_bound_hit{false};
  std::mutex mutex;
  std::vector<RequestSample> samples;
  const Clock::time_point start = Clock::now();
  const Clock::time_point deadline = start + to_ms(o.level_seconds);
  std::vector<std::thread> workers;
  for (int w = 0; w < concurrency; ++w) {
    workers.emplace_back([&] {
      for (;;) {
        if (Clock::now() >= deadline) {
          if (next.load() < n_requests) time_bound_hit = true;
          return;
        }
        if (next.fetch_add(1) >= n_requests) return;
        RequestSample s = one();
        const std::lock_guard<std::mutex> lock(mutex);
        samples.push_back(std::move(s));
      }
    });
  }
  for (std::thread& t : workers) t.join();
  const double wall_s = ms_between(start, Clock::now()) / 1000.0;
  return summarize_level(concurrency, samples, wall_s, time_bound_hit.load());
}

json opt_summary(const std::optional<bench::SampleSummary>& s) {
  return s ? bench::summary_to_json(*s) : json(nullptr);
}

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

LoadTestUrl parse_loadtest_url(std::string_view url) {
  std::string_view rest = url;
  bool websocket = false;
  if (const auto scheme_end = rest.find("://"); scheme_end != std::string_view::npos) {
    const std::string_view scheme = rest.substr(0, scheme_end);
    CHATTERD_CHECK(scheme == "http" || scheme == "ws", InvalidArgument,
                   "loadtest: URL '{}': scheme '{}' is not supported (http:// or ws://; no TLS)",
                   url, scheme);
    rest.remove_prefix(scheme_end + 3);
    websocket = scheme == "ws";
  }
  LoadTestUrl u;
  u.websocket = websocket;
  if (websocket) u.target = "/v1/stream";
  const auto slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos && rest.size() > slash + 1) {
    u.target = std::string(rest.substr(slash));
  }
  const auto colon = authority.rfind(':');
  if (colon != std::string_view::npos) {
    u.host = std::string(authority.substr(0, colon));
    u.port = std::string(authority.substr(colon + 1));
    CHATTERD_CHECK(is_digits(u.port) && u.port.size() <= 5 && std::stoi(u.port) <= 65535 &&
                       std::stoi(u.port) > 0,
                   InvalidArgument, "loadtest: URL '{}': bad port '{}'", url, u.port);
  } else {
    u.host = std::string(authority);
  }
  CHATTERD_CHECK(!u.host.empty(), InvalidArgument,
                 "loadtest: URL '{}' has no host (expected http://HOST[:PORT][/PATH])", url);
  return u;
}

void LoadTestOptions::validate() const {
  (void)parse_loadtest_url(url);
  CHATTERD_CHECK(!levels.empty(), InvalidArgument, "loadtest: no concurrency levels");
  for (const int l : levels) {
    CHATTERD_CHECK(l >= 1 && l <= 1000, InvalidArgument,
                   "loadtest: concurrency level {} is outside [1, 1000]", l);
  }
  CHATTERD_CHECK(requests_per_level >= 0, InvalidArgument,
                 "loadtest: requests per level must be >= 0 (0: automatic), got {}",
                 requests_per_level);
  CHATTERD_CHECK(level_seconds > 0.0 && request_timeout_seconds > 0.0, InvalidArgument,
                 "loadtest: time bounds must be > 0 (level {} s, request {} s)", level_seconds,
                 request_timeout_seconds);
  (void)bench::select_bench_texts({text_name});
}

LoadTestReport run_loadtest(const LoadTestOptions& options, const LoadTestProgress& progress) {
  options.validate();
  const LoadTestUrl url = parse_loadtest_url(options.url);
  const Health health = check_health(url, options);
  LoadTestReport r;
  r.timestamp = bench::utc_timestamp_now();
  r.note = options.note;
  r.options = options;
  r.server_model = health.model;
  r.sample_rate_hz = health.sample_rate_hz;
  r.text = std::string(bench::select_bench_texts({options.text_name}).front().text);
  r.client = bench::read_machine_info();
  std::function<RequestSample()> one;
  if (url.websocket) {
    json message = {{"context_id", "loadtest"}, {"transcript", r.text}, {"continue", false}};
    if (!options.voice.empty()) message["voice"] = options.voice;
    one = [&, m = message.dump()] { return one_ws_request(url, options, m, r.sample_rate_hz); };
  } else {
    json body = {
        {"model", "chatterd"}, {"input", r.text}, {"stream", true}, {"response_format", "pcm"}};
    if (!options.voice.empty()) body["voice"] = options.voice;
    one = [&, b = body.dump()] { return one_request(url, options, b, r.sample_rate_hz); };
  }
  for (const int level : options.levels) {
    LevelResult l = run_level(options, level, one);
    if (progress) {
      progress(fmt::format(
          "concurrency {}: {} requests, {} ok, TTFC p50 {:.1f} ms p95 {:.1f} ms, "
          "{:.1f} s{}",
          level, l.requests, l.ok, l.ttfc_ms ? l.ttfc_ms->p50 : 0.0,
          l.ttfc_ms ? l.ttfc_ms->p95 : 0.0, l.wall_s, l.time_bound_hit ? " (time bound hit)" : ""));
    }
    r.levels.push_back(std::move(l));
  }
  return r;
}

json to_json(const LoadTestReport& r) {
  json levels = json::array();
  std::int64_t total = 0;
  std::int64_t errors = 0;
  json best = nullptr;  // highest level whose TTFC p95 meets the target without errors
  for (const LevelResult& l : r.levels) {
    total += l.requests;
    errors += l.requests - l.ok;
    if (l.ok == l.requests && l.ttfc_ms && l.ttfc_ms->p95 < 400.0 &&
        (best.is_null() || l.concurrency > best.get<int>())) {
      best = l.concurrency;
    }
    levels.push_back({{"concurrency", l.concurrency},
                      {"requests", l.requests},
                      {"ok", l.ok},
                      {"errors", l.errors},
                      {"error_examples", l.error_examples},
                      {"time_bound_hit", l.time_bound_hit},
                      {"wall_s", l.wall_s},
                      {"ttfc_ms", opt_summary(l.ttfc_ms)},
                      {"latency_ms", opt_summary(l.latency_ms)},
                      {"rtf", opt_summary(l.rtf)},
                      {"inter_chunk_gap_ms", opt_summary(l.inter_chunk_gap_ms)},
                      {"jitter_ms", opt_summary(l.jitter_ms)},
                      {"audio_s_per_wall_s", l.audio_s_per_wall_s}});
  }
  const LoadTestOptions& o = r.options;
  return {
      {"metadata",
       {{"schema_version", 1}, {"kind", "loadtest"}, {"timestamp", r.timestamp}, {"note", r.note}}},
      {"configuration",
       {{"url", o.url},
        {"transport", parse_loadtest_url(o.url).websocket ? "websocket" : "http"},
        {"endpoint", parse_loadtest_url(o.url).target},
        {"response_format", "pcm"},
        {"levels", o.levels},
        {"requests_per_level", o.requests_per_level},
        {"level_seconds", o.level_seconds},
        {"request_timeout_seconds", o.request_timeout_seconds},
        {"text_name", o.text_name},
        {"text", r.text},
        {"voice", o.voice},
        {"server_model", r.server_model},
        {"sample_rate_hz", r.sample_rate_hz},
        {"client",
         {{"cpu_model", r.client.cpu_model},
          {"logical_cores", r.client.logical_cores},
          {"memory_total_kib", r.client.memory_total_kib},
          {"os", r.client.os}}},
        {"chatterd_version", r.chatterd_version}}},
      {"results", levels},
      {"summary",
       {{"requests", total},
        {"errors", errors},
        {"ttfc_target_ms", 400.0},
        {"max_concurrency_meeting_ttfc_p95_target", best}}}};
}

std::string loadtest_svg(const LoadTestReport& r) {
  std::vector<bench::ConcurrencyPoint> points;
  for (const LevelResult& l : r.levels) {
    if (l.ttfc_ms)
      points.push_back({l.concurrency, l.ttfc_ms->p50, l.ttfc_ms->p95, l.ttfc_ms->p99});
  }
  CHATTERD_CHECK(!points.empty(), InvalidArgument,
                 "loadtest: no level had a successful request, nothing to plot");
  return bench::ttfc_vs_concurrency_svg(
      fmt::format("{} via {} ({}), {}", r.server_model, r.options.url, r.options.text_name,
                  r.timestamp),
      points, 400.0);
}

std::pair<std::filesystem::path, std::filesystem::path> write_loadtest_outputs(
    const LoadTestReport& r, const std::filesystem::path& out_dir) {
  const std::filesystem::path stem = bench::results_stem(out_dir, "loadtest", r.timestamp);
  std::pair<std::filesystem::path, std::filesystem::path> files{stem.string() + ".json",
                                                                stem.string() + ".svg"};
  bench::write_text_file(files.first, to_json(r).dump(2) + "\n");
  bool any_ok = false;
  for (const LevelResult& l : r.levels) any_ok = any_ok || l.ok > 0;
  if (any_ok) {
    bench::write_text_file(files.second, loadtest_svg(r));
  } else {
    files.second.clear();
  }
  return files;
}

}  // namespace chatterd::serving
