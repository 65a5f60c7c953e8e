#pragma once
// Server counters, written from I/O threads and the engine worker, rendered as Prometheus text.

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "chatterd/engine/tts_engine.h"

namespace chatterd::serving {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // Appends the _bucket/_sum/_count lines of `name`.
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;  // guards counts_/sum_/count_ (tiny critical section)
  std::vector<std::uint64_t> counts_;
  double sum_ = 0.0;
  std::uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void count_response(int http_status);
  void add_audio_seconds(double seconds);
  // One finished (not cancelled, not failed) synthesis: audio seconds, TTFA, RTF.
  void record_synthesis(const SynthesisStats& stats);

  std::atomic<std::int64_t> in_flight{0};           // requests being handled (any path)
  std::atomic<std::int64_t> queue_depth{0};         // synthesis jobs admitted, not yet finished
  std::atomic<std::int64_t> active_streams{0};      // open WebSocket streams + streamed responses
  std::atomic<std::uint64_t> ws_contexts_total{0};  // WebSocket contexts opened
  std::atomic<std::uint64_t> ws_cancels_total{0};   // WebSocket contexts cancelled by the client
  std::atomic<std::uint64_t> ws_errors_total{0};    // error events sent on WebSockets
  std::atomic<std::int64_t> connections_open{0};    // accepted TCP connections not yet closed
  // Connections refused at accept: over max_connections_per_ip (429) / max_connections (503).
  std::atomic<std::uint64_t> connections_refused_per_ip{0};
  std::atomic<std::uint64_t> connections_refused_max{0};
  // Streams cut off because their client read too slowly (HTTP and WebSocket).
  std::atomic<std::uint64_t> slow_clients_total{0};
  Histogram time_to_first_audio;  // seconds
  Histogram real_time_factor;

  std::string render() const;
  std::uint64_t responses(int http_status) const;
  double audio_seconds() const;
  // Response counts by status ("other" for 0) for /optimization-status.
  std::string responses_json() const;

 private:
  static constexpr std::array<int, 14> kStatuses{101, 200, 201, 400, 401, 404, 405,
                                                 408, 413, 429, 500, 501, 503, 0};
  std::array<std::atomic<std::uint64_t>, kStatuses.size()> responses_{};
  std::atomic<std::uint64_t> audio_millis_{0};
};

}  // namespace chatterd::serving
