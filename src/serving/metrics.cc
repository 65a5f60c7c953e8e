#include "serving/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace chatterd::serving {
namespace {

// Latency buckets (seconds) shared by the stage, token and chunk histograms: 1 ms .. 30 s covers
// a tiny model's stage as well as a full-size CPU T3 decode of a long text.
std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0};
}

// A label value as the exposition format requires (backslash, quote and newline escaped).
std::string escape_label_value(std::string_view label) {
  std::string value;
  for (const char c : label) {
    if (c == '\\' || c == '"') value += '\\';
    if (c == '\n') {
      value += "\\n";
      continue;
    }
    value += c;
  }
  return value;
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  const std::lock_guard lock(mutex_);
  ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  sum_ += value;
  ++count_;
}

std::uint64_t Histogram::count() const {
  const std::lock_guard lock(mutex_);
  return count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  render_series(out, name, {});
}

void Histogram::render_series(std::string& out, const std::string& name,
                              std::string_view labels) const {
  const std::lock_guard lock(mutex_);
  const std::string sep = labels.empty() ? "" : ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out +=
        fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, bounds_[i], cumulative);
  }
  const std::string braces = labels.empty() ? "" : fmt::format("{{{}}}", labels);
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n{}_sum{} {}\n{}_count{} {}\n", name, labels,
                     sep, count_, name, braces, sum_, name, braces, count_);
}

HistogramFamily::HistogramFamily(std::string label_key, std::vector<double> upper_bounds)
    : label_key_(std::move(label_key)), bounds_(std::move(upper_bounds)) {}

void HistogramFamily::observe(std::string_view label, double value) {
  Histogram* h = nullptr;
  {
    const std::lock_guard lock(mutex_);
    auto it = series_.find(label);
    if (it == series_.end()) {
      if (series_.size() >= kMaxSeries) return;
      it = series_.emplace(std::string(label), std::make_unique<Histogram>(bounds_)).first;
    }
    h = it->second.get();  // series are never removed: the pointer stays valid
  }
  h->observe(value);
}

std::uint64_t HistogramFamily::count(std::string_view label) const {
  const std::lock_guard lock(mutex_);
  const auto it = series_.find(label);
  return it == series_.end() ? 0 : it->second->count();
}

void HistogramFamily::render(std::string& out, const std::string& name,
                             const std::string& help) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  const std::lock_guard lock(mutex_);
  for (const auto& [label, h] : series_) {
    // Label values are engine stage names ([a-z0-9_]); escape anyway, as the format requires.
    h->render_series(out, name, fmt::format("{}=\"{}\"", label_key_, escape_label_value(label)));
  }
}

MaxGaugeFamily::MaxGaugeFamily(std::string label_key) : label_key_(std::move(label_key)) {}

void MaxGaugeFamily::raise(std::string_view label, std::int64_t value) {
  const std::lock_guard lock(mutex_);
  auto it = series_.find(label);
  if (it == series_.end()) {
    if (series_.size() >= kMaxSeries) return;
    it = series_.emplace(std::string(label), value).first;
  }
  it->second = std::max(it->second, value);
}

std::map<std::string, std::int64_t, std::less<>> MaxGaugeFamily::values() const {
  const std::lock_guard lock(mutex_);
  return series_;
}

void MaxGaugeFamily::render(std::string& out, const std::string& name,
                            const std::string& help) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
  const std::lock_guard lock(mutex_);
  for (const auto& [label, value] : series_) {
    out += fmt::format("{}{{{}=\"{}\"}} {}\n", name, label_key_, escape_label_value(label), value);
  }
}

Metrics::Metrics()
    : time_to_first_audio({0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.0, 5.0}),
      real_time_factor({0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.0, 5.0}),
      stage_duration("stage", latency_buckets()),
      stage_peak_resident("stage"),
      time_to_first_token(latency_buckets()),
      decode_token(
          {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5}),
      decode_tokens_per_second({1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 75, 100, 200, 500, 1000}),
      chunk_gap(latency_buckets()),
      chunk_delivery(latency_buckets()),
      batch_size({1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64}),
      queue_wait(latency_buckets()),
      vocoder_batch_size({1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64}),
      vocoder_wait(latency_buckets()),
      vocoder_queue_depth({1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64}),
      // Whole jobs: a long text on a full-size CPU model runs for minutes.
      request_duration("outcome", {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                                   60.0, 120.0, 300.0}) {}

void Metrics::record_vocoder_batch(const VocoderBatchEvent& event) {
  vocoder_batches_[static_cast<std::size_t>(event.trigger)].fetch_add(1, std::memory_order_relaxed);
  vocoder_batch_size.observe(static_cast<double>(event.windows));
  vocoder_queue_depth.observe(static_cast<double>(event.queue_depth));
  for (const double ms : event.wait_ms) vocoder_wait.observe(ms / 1000.0);
}

void Metrics::count_response(int http_status) {
  std::size_t i = 0;
  while (i + 1 < kStatuses.size() && kStatuses[i] != http_status) ++i;
  responses_[i].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::record_synthesis(const SynthesisStats& stats) {
  add_audio_seconds(stats.audio_seconds);
  if (stats.cached) return;  // a replay: no latency, stage or token time to observe
  time_to_first_audio.observe(stats.time_to_first_audio_ms / 1000.0);
  real_time_factor.observe(stats.real_time_factor);
  for (const StageTime& stage : stats.stages) {
    stage_duration.observe(stage.name, stage.ms / 1000.0);
    if (stage.peak_rss_bytes > 0) stage_peak_resident.raise(stage.name, stage.peak_rss_bytes);
  }
  if (stats.speech_tokens > 0) {
    speech_tokens_.fetch_add(static_cast<std::uint64_t>(stats.speech_tokens),
                             std::memory_order_relaxed);
  }
  if (stats.time_to_first_token_ms > 0.0) {
    time_to_first_token.observe(stats.time_to_first_token_ms / 1000.0);
  }
  if (stats.decode_steps > 0 && stats.decode_ms > 0.0) {
    const double per_token = stats.decode_ms / 1000.0 / static_cast<double>(stats.decode_steps);
    decode_token.observe(per_token);
    decode_tokens_per_second.observe(1.0 / per_token);
  }
}

void Metrics::record_request(const RequestRecord& record) {
  recent_requests.add(record);
  if (record.outcome != RequestOutcome::Refused) {
    request_duration.observe(outcome_name(record.outcome), record.total_ms / 1000.0);
  }
}

std::uint64_t Metrics::responses(int http_status) const {
  for (std::size_t i = 0; i < kStatuses.size(); ++i) {
    if (kStatuses[i] == http_status) return responses_[i].load(std::memory_order_relaxed);
  }
  return 0;
}

double Metrics::audio_seconds() const {
  return static_cast<double>(audio_millis_.load(std::memory_order_relaxed)) / 1000.0;
}

std::string Metrics::responses_json() const {
  std::string out = "{";
  for (std::size_t i = 0; i < kStatuses.size(); ++i) {
    out += fmt::format("{}\"{}\":{}", i > 0 ? "," : "",
                       kStatuses[i] == 0 ? "other" : std::to_string(kStatuses[i]),
                       responses_[i].load(std::memory_order_relaxed));
  }
  return out + "}";
}

void Metrics::add_audio_seconds(double seconds) {
  audio_millis_.fetch_add(static_cast<std::uint64_t>(std::llround(seconds * 1000.0)),
                          std::memory_order_relaxed);
}

std::string Metrics::render(const EngineMemoryStats& engine_memory) const {
  std::string out;
  out.reserve(16384);  // the whole exposition is ~10 KB with every family populated
  out +=
      "# HELP chatterd_requests_total HTTP responses by status code.\n"
      "# TYPE chatterd_requests_total counter\n";
  for (std::size_t i = 0; i < kStatuses.size(); ++i) {
    const std::string label = kStatuses[i] == 0 ? "other" : std::to_string(kStatuses[i]);
    out += fmt::format("chatterd_requests_total{{status=\"{}\"}} {}\n", label,
                       responses_[i].load(std::memory_order_relaxed));
  }
  out += fmt::format(
      "# HELP chatterd_requests_in_flight Requests being handled.\n"
      "# TYPE chatterd_requests_in_flight gauge\nchatterd_requests_in_flight {}\n"
      "# HELP chatterd_queue_depth Synthesis jobs admitted and not finished.\n"
      "# TYPE chatterd_queue_depth gauge\nchatterd_queue_depth {}\n"
      "# HELP chatterd_audio_seconds_total Seconds of audio synthesised.\n"
      "# TYPE chatterd_audio_seconds_total counter\nchatterd_audio_seconds_total {}\n"
      "# HELP chatterd_speech_tokens_total Speech tokens generated by finished syntheses.\n"
      "# TYPE chatterd_speech_tokens_total counter\nchatterd_speech_tokens_total {}\n"
      "# HELP chatterd_active_streams Open WebSocket streams and streamed HTTP responses.\n"
      "# TYPE chatterd_active_streams gauge\nchatterd_active_streams {}\n"
      "# HELP chatterd_ws_contexts_total WebSocket contexts opened.\n"
      "# TYPE chatterd_ws_contexts_total counter\nchatterd_ws_contexts_total {}\n"
      "# HELP chatterd_ws_cancels_total WebSocket contexts cancelled by clients.\n"
      "# TYPE chatterd_ws_cancels_total counter\nchatterd_ws_cancels_total {}\n"
      "# HELP chatterd_connections_open Accepted TCP connections not yet closed.\n"
      "# TYPE chatterd_connections_open gauge\nchatterd_connections_open {}\n"
      "# HELP chatterd_connections_refused_total Connections refused at accept, by limit.\n"
      "# TYPE chatterd_connections_refused_total counter\n"
      "chatterd_connections_refused_total{{reason=\"per_ip\"}} {}\n"
      "chatterd_connections_refused_total{{reason=\"max_connections\"}} {}\n"
      "# HELP chatterd_slow_clients_total Streams cut off because the client read too slowly.\n"
      "# TYPE chatterd_slow_clients_total counter\nchatterd_slow_clients_total {}\n",
      in_flight.load(), queue_depth.load(), audio_seconds(), speech_tokens(), active_streams.load(),
      ws_contexts_total.load(), ws_cancels_total.load(), connections_open.load(),
      connections_refused_per_ip.load(), connections_refused_max.load(), slow_clients_total.load());
  time_to_first_audio.render(out, "chatterd_time_to_first_audio_seconds",
                             "Time from start of synthesis to the first audio chunk.");
  real_time_factor.render(out, "chatterd_real_time_factor",
                          "Synthesis time divided by audio duration.");
  stage_duration.render(out, "chatterd_stage_duration_seconds",
                        "Time one synthesis spent in each engine stage.");
  out += fmt::format(
      "# HELP chatterd_kv_cache_bytes T3 KV cache blocks: held by requests and voice prefixes "
      "(in_use), taken from the system (allocated: in use + free for the next request).\n"
      "# TYPE chatterd_kv_cache_bytes gauge\n"
      "chatterd_kv_cache_bytes{{state=\"in_use\"}} {}\n"
      "chatterd_kv_cache_bytes{{state=\"allocated\"}} {}\n"
      "# HELP chatterd_kv_cache_peak_bytes The most T3 KV cache bytes in use at once since start.\n"
      "# TYPE chatterd_kv_cache_peak_bytes gauge\n"
      "chatterd_kv_cache_peak_bytes {}\n",
      engine_memory.kv_cache_bytes_in_use, engine_memory.kv_cache_bytes_allocated,
      engine_memory.kv_cache_peak_bytes_in_use);
  out += fmt::format(
      "# HELP chatterd_device_memory_bytes Device (CUDA) memory of the engine's caching allocator: "
      "handed out (in_use: weights, KV slots, scratch) and freed but kept for reuse (cached). 0 "
      "on the CPU.\n"
      "# TYPE chatterd_device_memory_bytes gauge\n"
      "chatterd_device_memory_bytes{{state=\"in_use\"}} {}\n"
      "chatterd_device_memory_bytes{{state=\"cached\"}} {}\n"
      "# HELP chatterd_device_memory_peak_bytes The most device memory in use at once since "
      "start.\n"
      "# TYPE chatterd_device_memory_peak_bytes gauge\n"
      "chatterd_device_memory_peak_bytes {}\n",
      engine_memory.device_bytes_in_use, engine_memory.device_bytes_cached,
      engine_memory.device_peak_bytes_in_use);
  if (engine_memory.device_timing) {
    out += fmt::format(
        "# HELP chatterd_device_busy_seconds_total GPU time of each engine stage's device work "
        "(CUDA events around each T3 batch step and each flow / HiFT device call).\n"
        "# TYPE chatterd_device_busy_seconds_total counter\n"
        "chatterd_device_busy_seconds_total{{stage=\"t3\"}} {}\n"
        "chatterd_device_busy_seconds_total{{stage=\"flow\"}} {}\n"
        "chatterd_device_busy_seconds_total{{stage=\"hift\"}} {}\n"
        "# HELP chatterd_device_calls_total Timed device calls per stage (T3: batch steps).\n"
        "# TYPE chatterd_device_calls_total counter\n"
        "chatterd_device_calls_total{{stage=\"t3\"}} {}\n"
        "chatterd_device_calls_total{{stage=\"flow\"}} {}\n"
        "chatterd_device_calls_total{{stage=\"hift\"}} {}\n",
        engine_memory.device_t3_ms * 1e-3, engine_memory.device_flow_ms * 1e-3,
        engine_memory.device_hift_ms * 1e-3, engine_memory.device_t3_steps,
        engine_memory.device_flow_calls, engine_memory.device_hift_calls);
  }
  if (engine_memory.request_cache) {
    out += fmt::format(
        "# HELP chatterd_request_cache_lookups_total Cacheable requests (seeded) by outcome: "
        "replayed from the request cache (hit) or synthesised (miss).\n"
        "# TYPE chatterd_request_cache_lookups_total counter\n"
        "chatterd_request_cache_lookups_total{{result=\"hit\"}} {}\n"
        "chatterd_request_cache_lookups_total{{result=\"miss\"}} {}\n"
        "# HELP chatterd_request_cache_evictions_total Entries dropped to stay within the budget.\n"
        "# TYPE chatterd_request_cache_evictions_total counter\n"
        "chatterd_request_cache_evictions_total {}\n"
        "# HELP chatterd_request_cache_bytes Audio (and keys) the request cache holds.\n"
        "# TYPE chatterd_request_cache_bytes gauge\n"
        "chatterd_request_cache_bytes {}\n"
        "# HELP chatterd_request_cache_entries Requests the request cache can replay.\n"
        "# TYPE chatterd_request_cache_entries gauge\n"
        "chatterd_request_cache_entries {}\n",
        engine_memory.request_cache_hits, engine_memory.request_cache_misses,
        engine_memory.request_cache_evictions, engine_memory.request_cache_bytes,
        engine_memory.request_cache_entries);
  }
  if (engine_memory.gpu_telemetry) {
    out += fmt::format(
        "# HELP chatterd_gpu_memory_bytes The GPU's memory as NVML reports it (every process).\n"
        "# TYPE chatterd_gpu_memory_bytes gauge\n"
        "chatterd_gpu_memory_bytes{{state=\"used\"}} {}\n"
        "chatterd_gpu_memory_bytes{{state=\"total\"}} {}\n"
        "# HELP chatterd_gpu_utilization_ratio Share of NVML's last sample period the GPU ran a "
        "kernel (sm) or accessed its memory (memory).\n"
        "# TYPE chatterd_gpu_utilization_ratio gauge\n"
        "chatterd_gpu_utilization_ratio{{unit=\"sm\"}} {}\n"
        "chatterd_gpu_utilization_ratio{{unit=\"memory\"}} {}\n",
        engine_memory.gpu_memory_used_bytes, engine_memory.gpu_memory_total_bytes,
        engine_memory.gpu_utilization_percent / 100.0,
        engine_memory.gpu_memory_utilization_percent / 100.0);
  }
  stage_peak_resident.render(out, "chatterd_stage_peak_resident_bytes",
                             "Largest process resident set sampled at the end of an engine "
                             "stage's segments, over all syntheses since start.");
  time_to_first_token.render(out, "chatterd_time_to_first_token_seconds",
                             "Time from start of synthesis to the first speech token.");
  decode_token.render(out, "chatterd_decode_token_seconds",
                      "Mean time per decoded speech token after the first, per synthesis.");
  decode_tokens_per_second.render(out, "chatterd_decode_tokens_per_second",
                                  "Speech tokens decoded per second, per synthesis.");
  chunk_gap.render(out, "chatterd_chunk_gap_seconds",
                   "Time between consecutive audio chunks of one streamed response.");
  chunk_delivery.render(out, "chatterd_chunk_delivery_seconds",
                        "Time from an audio chunk being produced to it being written to the "
                        "client.");
  batch_size.render(out, "chatterd_batch_size", "Requests in each batched T3 decode step.");
  queue_wait.render(out, "chatterd_queue_wait_seconds",
                    "Time a synthesis waited from admission to starting on a worker.");
  out +=
      "# HELP chatterd_vocoder_batches_total Vocoder batches run, by what fired them.\n"
      "# TYPE chatterd_vocoder_batches_total counter\n";
  for (int t = 0; t < kVocoderBatchTriggers; ++t) {
    out += fmt::format("chatterd_vocoder_batches_total{{trigger=\"{}\"}} {}\n",
                       vocoder_batch_trigger_name(static_cast<VocoderBatchTrigger>(t)),
                       vocoder_batches_[static_cast<std::size_t>(t)].load());
  }
  vocoder_batch_size.render(out, "chatterd_vocoder_batch_size",
                            "Stream windows in each vocoder (S3Gen flow) batch.");
  vocoder_wait.render(out, "chatterd_vocoder_wait_seconds",
                      "Time a stream window waited for its vocoder batch.");
  vocoder_queue_depth.render(out, "chatterd_vocoder_queue_depth",
                             "Windows waiting when a vocoder batch fired.");
  request_duration.render(out, "chatterd_request_duration_seconds",
                          "Time from admission to the end of a synthesis job (queue wait "
                          "included), by outcome.");
  return out;
}

}  // namespace chatterd::serving
