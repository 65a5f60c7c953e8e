#pragma once
// `chatterd bench`, the part that runs: the standard texts through one TtsEngine, warm-up runs
// then measured runs, into a BenchReport (bench_report.h).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "chatterd/engine/tts_engine.h"
#include "pipeline/bench_report.h"

namespace chatterd::bench {

struct BenchOptions {
  int warmup = 5;                  // runs per text before measuring
  int runs = 20;                   // measured runs per text
  std::vector<std::string> texts;  // standard text names; empty: all five
  // Synthetic models never stop on their own: make each text generate N = round(words / 2.6 * 25)
  // speech tokens (SynthesisOptions::max_speech_tokens), the same on every machine.
  bool fixed_speech_tokens = false;
  std::uint64_t seed = 42;  // SynthesisOptions::seed of every run (the same work each run)
  void validate() const;    // InvalidArgument: warmup < 0, runs < 1, unknown text
};

// Progress lines ("short: run 3/20 412.5 ms"); may be empty.
using BenchProgress = std::function<void(const std::string&)>;

// Runs the texts and fills report.results and report.summary; report.metadata's warmup/runs and
// configuration.seed/fixed_speech_tokens are set from `options`, the rest of metadata and
// configuration is the caller's. Throws what the engine throws.
BenchReport run_bench(TtsEngine& engine, const BenchOptions& options, BenchReport report,
                      const BenchProgress& progress = {});

// The latency distribution plot of a report (bench_svg.h), titled with model and machine.
std::string bench_report_svg(const BenchReport& report);

struct WrittenFiles {
  std::filesystem::path json;
  std::filesystem::path svg;
};
// Writes <out_dir>/<kind>_<YYYYmmdd_HHMMSS>.json and the .svg next to it. Throws IoError.
WrittenFiles write_bench_outputs(const BenchReport& report, const std::filesystem::path& out_dir);

}  // namespace chatterd::bench
