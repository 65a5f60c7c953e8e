#pragma once
// A `chatterd bench` result: what ran (metadata, configuration) and what it measured (per text
// and summary), with its JSON form (docs/benchmarks.md documents the schema). Reading is strict:
// a missing field, a wrong type or a value out of range throws InvalidArgument naming the file
// and the JSON path, so `bench compare` never compares half-read files.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/bench_stats.h"
#include "pipeline/system_info.h"

namespace chatterd::bench {

inline constexpr int kBenchSchemaVersion = 1;

struct BenchMetadata {
  int schema_version = kBenchSchemaVersion;
  std::string kind = "bench";  // results file prefix; "bench" for in-process runs
  std::string timestamp;       // UTC, ISO 8601 ("2026-11-23T20:40:00Z")
  int warmup = 0;              // runs per text before measuring
  int runs = 0;                // measured runs per text
  std::string note;            // free text (e.g. "machine contended: 5 builds sharing 2 cores")
};

struct BenchConfiguration {
  MachineInfo device;
  std::string chatterd_version;  // "0.1.0 (git describe)"; "unknown" if not known at build time
  std::string model;             // the --model spec
  std::string engine;            // EngineInfo::name
  int threads = 0;               // engine threads (0 = one per core)
  std::string dtype = "f32";     // weight format the model runs in
  std::vector<std::string> optimisations;
  int batch_size = 1;
  std::uint64_t seed = 0;            // SynthesisOptions::seed of every run
  bool fixed_speech_tokens = false;  // synthetic models: N = round(words / 2.6 * 25) per text
  std::string voice;                 // the voice used and, for synthetic models, its sizes
  double load_ms = 0.0;              // engine construction
  std::int64_t rss_after_load_kib = 0;
};

struct StageResult {
  std::string name;      // the engine's stage name
  double mean_ms = 0.0;  // per measured run
  double share = 0.0;    // mean_ms / mean latency
  // The largest StageTime::peak_rss_bytes over the measured runs, in KiB (0: not measured, or a
  // report written before it was).
  std::int64_t peak_rss_kib = 0;
};

// A text's GPU figures (engines with device work): mean GPU time per measured run of each
// stage (EngineMemoryStats::device_*_ms, CUDA events), T3 batch steps per run, and the device
// memory peak of the engine's caching allocators after the text.
struct DeviceResult {
  double t3_ms = 0.0;
  double flow_ms = 0.0;
  double hift_ms = 0.0;
  double t3_steps = 0.0;
  std::int64_t peak_bytes = 0;
};

struct TextResult {
  std::string name;
  std::string text;
  std::int64_t words = 0;
  std::optional<std::int64_t> forced_speech_tokens;  // set when fixed_speech_tokens
  std::int64_t speech_tokens = 0;  // as the engine reports (S3Gen input: + 3 silence tokens)
  std::int64_t chunks = 0;         // audio chunks per run
  double audio_ms = 0.0;           // mean audio duration per run
  SampleSummary latency_ms;        // synthesize() wall time
  SampleSummary ttfc_ms;           // time to the first on_chunk callback
  SampleSummary rtf;               // latency / audio duration
  SampleSummary cpu_ms;            // process CPU time (all threads) per run
  std::int64_t peak_rss_kib = 0;   // VmHWM after this text's runs
  bool peak_rss_per_text = false;  // VmHWM was reset before the text (else: process peak so far)
  std::int64_t rss_kib = 0;        // VmRSS after this text's runs
  std::vector<StageResult> stages;
  std::optional<DeviceResult> device;      // nullopt where nothing runs on a GPU
  std::vector<double> latency_samples_ms;  // in run order
  std::vector<double> ttfc_samples_ms;
};

struct TargetCheck {
  std::string metric;  // "ttfc_p50_ms", "rtf_mean", "latency_p50_ms", ...
  double target = 0.0;
  double value = 0.0;  // the worst text's value
  bool pass = false;   // value < target
};

struct BenchSummary {
  std::int64_t texts = 0;
  std::int64_t measured_runs = 0;
  double audio_ms_total = 0.0;  // one run of each text
  double rtf_mean = 0.0;        // mean over texts of their mean RTF
  double ttfc_p50_ms_max = 0.0;
  double latency_p95_ms_max = 0.0;
  std::int64_t peak_rss_kib = 0;
  std::vector<TargetCheck> targets;
};

struct BenchReport {
  BenchMetadata metadata;
  BenchConfiguration configuration;
  std::vector<TextResult> results;
  BenchSummary summary;
};

// The design doc's targets (floor): TTFC < 400 ms, RTF < 0.5, latency p50 < 450, p95 < 500,
// p99 < 750 ms. Each is checked against the worst text.
struct DesignTarget {
  std::string_view metric;
  double limit;
};
std::vector<DesignTarget> design_targets();

// The value of a target's metric for one text ("ttfc_p50_ms" -> ttfc_ms.p50, ...).
double target_metric_value(const TextResult& r, std::string_view metric);

// Fills report.summary from report.results (and the targets).
void compute_summary(BenchReport& report);

nlohmann::json to_json(const BenchReport& report);
// `source` names the input in error messages (a file name).
BenchReport bench_report_from_json(const nlohmann::json& j, std::string_view source);

// Reads and validates a results file. Throws IoError (unreadable), InvalidArgument (not JSON or
// not a bench result).
BenchReport load_bench_report(const std::filesystem::path& path);

// "<dir>/<kind>_<YYYYmmdd_HHMMSS>" for an ISO 8601 `timestamp`; the caller adds ".json" / ".svg".
std::filesystem::path results_stem(const std::filesystem::path& dir, std::string_view kind,
                                   std::string_view timestamp);

// UTC now as ISO 8601 with seconds ("2026-11-23T20:40:00Z").
std::string utc_timestamp_now();

// Writes `text` to `path` (creating parent directories). Throws IoError.
void write_text_file(const std::filesystem::path& path, std::string_view text);

}  // namespace chatterd::bench
