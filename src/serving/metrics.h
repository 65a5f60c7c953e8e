#pragma once
// Server counters, written from I/O threads and the engine workers, rendered as Prometheus text.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "chatterd/engine/tts_engine.h"
#include "serving/request_log.h"

namespace chatterd::serving {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // Appends the HELP/TYPE lines and the _bucket/_sum/_count lines of `name`.
  void render(std::string& out, const std::string& name, const std::string& help) const;
  // Only the sample lines, each with `labels` (`stage="hift"`) before `le`: one series of a
  // family whose HELP/TYPE the caller wrote.
  void render_series(std::string& out, const std::string& name, std::string_view labels) const;
  std::uint64_t count() const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;  // guards counts_/sum_/count_ (tiny critical section)
  std::vector<std::uint64_t> counts_;
  double sum_ = 0.0;
  std::uint64_t count_ = 0;
};

// One histogram family with one label (`chatterd_stage_duration_seconds{stage="..."}`): a series
// per label value, created on first use. Values come from engines (stage names), so the set is
// small and fixed per engine; it is still capped so a misbehaving engine cannot grow it without
// limit (observations of further labels are dropped).
class HistogramFamily {
 public:
  HistogramFamily(std::string label_key, std::vector<double> upper_bounds);
  void observe(std::string_view label, double value);
  void render(std::string& out, const std::string& name, const std::string& help) const;
  // 0 when the label has no series.
  std::uint64_t count(std::string_view label) const;

  static constexpr std::size_t kMaxSeries = 32;

 private:
  std::string label_key_;
  std::vector<double> bounds_;
  mutable std::mutex mutex_;  // guards the map only; each series has its own lock
  std::map<std::string, std::unique_ptr<Histogram>, std::less<>> series_;
};

// One gauge family with one label (`chatterd_stage_peak_resident_bytes{stage="..."}`) whose
// series only rise: raise() keeps the largest value seen since start. Capped like
// HistogramFamily (raises of further labels are dropped).
class MaxGaugeFamily {
 public:
  explicit MaxGaugeFamily(std::string label_key);
  void raise(std::string_view label, std::int64_t value);
  void render(std::string& out, const std::string& name, const std::string& help) const;
  // Every series, by label (for /optimization-status).
  std::map<std::string, std::int64_t, std::less<>> values() const;

  static constexpr std::size_t kMaxSeries = 32;

 private:
  std::string label_key_;
  mutable std::mutex mutex_;  // guards series_
  std::map<std::string, std::int64_t, std::less<>> series_;
};

class Metrics {
 public:
  Metrics();
  void count_response(int http_status);
  void add_audio_seconds(double seconds);
  // One finished (not cancelled, not failed) synthesis: audio seconds, TTFA, RTF, the engine's
  // stage times and peak resident sets, token timing when the engine measured it.
  void record_synthesis(const SynthesisStats& stats);
  // The time between two consecutive chunks of one streamed response, as the engine produced
  // them (what a client's buffer must cover).
  void record_chunk_gap(double seconds) { chunk_gap.observe(seconds); }
  // From chunk produced by the engine to its last byte written to the client socket.
  void record_chunk_delivery(double seconds) { chunk_delivery.observe(seconds); }
  // One vocoder batch: its size, each window's wait, the queue depth, the trigger.
  void record_vocoder_batch(const VocoderBatchEvent& event);
  std::uint64_t vocoder_batches(VocoderBatchTrigger trigger) const {
    return vocoder_batches_[static_cast<std::size_t>(trigger)].load(std::memory_order_relaxed);
  }
  // One synthesis job's lifecycle, when it ends or is refused: into recent_requests, and (unless
  // refused: it never ran) its admission-to-end time into request_duration by outcome.
  void record_request(const RequestRecord& record);

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
  HistogramFamily stage_duration;      // seconds per synthesis, by engine stage
  MaxGaugeFamily stage_peak_resident;  // bytes: the largest StageTime::peak_rss_bytes, by stage
  Histogram time_to_first_token;       // seconds, synthesis start -> first speech token
  Histogram decode_token;              // seconds per decoded token (one mean per synthesis)
  Histogram decode_tokens_per_second;  // one per synthesis
  Histogram chunk_gap;                 // seconds between consecutive streamed chunks
  Histogram chunk_delivery;            // seconds from chunk produced to written
  Histogram batch_size;                // rows of each batched T3 decode step
  Histogram queue_wait;                // seconds from admission to a worker starting the job
  Histogram vocoder_batch_size;        // windows per vocoder batch (VocoderBatcher)
  Histogram vocoder_wait;              // seconds each window waited for its vocoder batch
  Histogram vocoder_queue_depth;       // windows waiting when a vocoder batch fired
  HistogramFamily request_duration;    // seconds from admission to job end, by outcome
  RequestLog recent_requests;          // the last RequestLog::kCapacity syntheses

  // The exposition; `engine_memory` (read from the engine at scrape time) adds the KV cache
  // gauges.
  std::string render(const EngineMemoryStats& engine_memory = {}) const;
  std::uint64_t responses(int http_status) const;
  double audio_seconds() const;
  std::uint64_t speech_tokens() const { return speech_tokens_.load(std::memory_order_relaxed); }
  // Response counts by status ("other" for 0) for /optimization-status.
  std::string responses_json() const;

 private:
  static constexpr std::array<int, 14> kStatuses{101, 200, 201, 400, 401, 404, 405,
                                                 408, 413, 429, 500, 501, 503, 0};
  std::array<std::atomic<std::uint64_t>, kStatuses.size()> responses_{};
  std::atomic<std::uint64_t> audio_millis_{0};
  std::atomic<std::uint64_t> speech_tokens_{0};
  std::array<std::atomic<std::uint64_t>, kVocoderBatchTriggers> vocoder_batches_{};
};

}  // namespace chatterd::serving
