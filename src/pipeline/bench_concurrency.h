#pragma once
// `chatterd bench --streams 1,2,4,8`: throughput at several concurrent streams. At each level N
// threads each run `requests_per_stream` streamed syntheses back to back through one engine;
// reported: aggregate audio seconds and speech tokens per wall second, TTFC and per-request RTF
// percentiles. Run with batching off and on (SynthesisOptions::batching) on one engine, the two
// tables compare side by side in one run.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "chatterd/engine/tts_engine.h"
#include "pipeline/bench_stats.h"

namespace chatterd::bench {

struct ConcurrencyOptions {
  std::vector<int> levels{1, 2, 4, 8};  // concurrent streams, each 1..64
  int requests_per_stream = 1;          // >= 1
  std::string text = "short";           // a standard text name (bench_texts.h)
  // Speech tokens per request (synthetic models never stop on their own); unset: the model's.
  std::optional<std::int64_t> speech_tokens;
  bool batching = true;  // SynthesisOptions::batching of every request
  // The batching column of the table ("off", "t3", "t3+vocoder"); empty: "on"/"off".
  std::string mode;
  bool warmup = true;  // one request before the first level
  int chunk_tokens = 50;
  std::uint64_t seed = 42;  // request i of stream s uses seed + 1000 * s + i
  void validate() const;    // InvalidArgument naming the problem
};

struct ConcurrencyLevelResult {
  int streams = 0;
  bool batching = false;
  int requests = 0;
  int errors = 0;  // requests that threw (the first message is kept)
  std::string first_error;
  double wall_s = 0.0;
  double cpu_s = 0.0;    // process CPU time over the level
  double audio_s = 0.0;  // all requests together
  double audio_s_per_s = 0.0;
  double tokens_per_s = 0.0;  // speech tokens = audio seconds x 25
  SampleSummary ttfc_ms;      // request start -> first chunk
  SampleSummary rtf;          // per request: its wall time / its audio time
  std::string mode;           // ConcurrencyOptions::mode, or "on"/"off"
  // The vocoder batcher over this level (filled by the caller; null: not batching): windows,
  // batches by trigger, mean batch size, mean wait.
  nlohmann::json vocoder;
};

using ConcurrencyProgress = std::function<void(const std::string&)>;

// Runs every level once (after one warm-up request). Engine errors are counted, not thrown.
std::vector<ConcurrencyLevelResult> run_concurrency_bench(TtsEngine& engine,
                                                          const ConcurrencyOptions& options,
                                                          const ConcurrencyProgress& progress = {});

// A Markdown table, one row per result.
std::string format_concurrency_table(const std::vector<ConcurrencyLevelResult>& results);
nlohmann::json concurrency_results_json(const std::vector<ConcurrencyLevelResult>& results);

}  // namespace chatterd::bench
