#include "serving/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace chatterd::serving {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  const std::lock_guard lock(mutex_);
  ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  const std::lock_guard lock(mutex_);
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count_, name,
                     sum_, name, count_);
}

Metrics::Metrics()
    : time_to_first_audio({0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.0, 5.0}),
      real_time_factor({0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.0, 5.0}) {}

void Metrics::count_response(int http_status) {
  std::size_t i = 0;
  while (i + 1 < kStatuses.size() && kStatuses[i] != http_status) ++i;
  responses_[i].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::record_synthesis(const SynthesisStats& stats) {
  add_audio_seconds(stats.audio_seconds);
  time_to_first_audio.observe(stats.time_to_first_audio_ms / 1000.0);
  real_time_factor.observe(stats.real_time_factor);
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

std::string Metrics::render() const {
  std::string out;
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
      in_flight.load(), queue_depth.load(), audio_seconds(), active_streams.load(),
      ws_contexts_total.load(), ws_cancels_total.load(), connections_open.load(),
      connections_refused_per_ip.load(), connections_refused_max.load(), slow_clients_total.load());
  time_to_first_audio.render(out, "chatterd_time_to_first_audio_seconds",
                             "Time from start of synthesis to the first audio chunk.");
  real_time_factor.render(out, "chatterd_real_time_factor",
                          "Synthesis time divided by audio duration.");
  return out;
}

}  // namespace chatterd::serving
