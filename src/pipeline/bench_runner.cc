#include "pipeline/bench_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "core/check.h"
#include "core/stopwatch.h"
#include "pipeline/bench_stats.h"
#include "pipeline/bench_svg.h"
#include "pipeline/bench_texts.h"
#include "pipeline/system_info.h"

namespace chatterd::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct RunSample {
  double latency_ms = 0.0;
  double ttfc_ms = 0.0;
  double audio_ms = 0.0;
  double cpu_ms = 0.0;
  std::int64_t speech_tokens = 0;
  std::int64_t chunks = 0;
  std::vector<StageTime> stages;
};

RunSample run_once(TtsEngine& engine, const SynthesisRequest& request) {
  RunSample s;
  bool first = true;
  const double cpu0 = process_cpu_ms();
  const Clock::time_point t0 = Clock::now();
  Clock::time_point t_first = t0;
  const SynthesisResult result = engine.synthesize(request, [&](const AudioChunk&) {
    if (first) t_first = Clock::now();
    first = false;
    return true;
  });
  const Clock::time_point t1 = Clock::now();
  s.cpu_ms = process_cpu_ms() - cpu0;
  CHATTERD_CHECK(!first, Internal, "bench: the engine produced no audio chunk for '{}'",
                 request.text);
  s.latency_ms = ms_between(t0, t1);
  s.ttfc_ms = ms_between(t0, t_first);
  s.audio_ms = 1000.0 * static_cast<double>(result.samples.size()) /
               static_cast<double>(result.sample_rate_hz);
  s.speech_tokens = result.stats.speech_tokens;
  s.chunks = result.stats.chunks;
  s.stages = result.stats.stages;
  return s;
}

TextResult measure_text(TtsEngine& engine, const BenchText& text, const BenchOptions& options,
                        const BenchProgress& progress) {
  TextResult r;
  r.name = std::string(text.name);
  r.text = std::string(text.text);
  r.words = count_words(text.text);
  SynthesisRequest request;
  request.text = r.text;
  request.options.seed = options.seed;
  if (options.fixed_speech_tokens) {
    r.forced_speech_tokens = fixed_speech_tokens(r.words);
    request.options.max_speech_tokens = static_cast<int>(*r.forced_speech_tokens);
  }
  r.peak_rss_per_text = reset_peak_memory();
  for (int i = 0; i < options.warmup; ++i) {
    const RunSample s = run_once(engine, request);
    if (progress) {
      progress(
          fmt::format("{}: warm-up {}/{} {:.1f} ms", r.name, i + 1, options.warmup, s.latency_ms));
    }
  }
  std::vector<double> rtf, cpu, audio;
  std::vector<StageResult> stage_sums;
  const EngineMemoryStats before = engine.memory_stats();
  for (int i = 0; i < options.runs; ++i) {
    const RunSample s = run_once(engine, request);
    r.latency_samples_ms.push_back(s.latency_ms);
    r.ttfc_samples_ms.push_back(s.ttfc_ms);
    rtf.push_back(s.audio_ms > 0.0 ? s.latency_ms / s.audio_ms : 0.0);
    cpu.push_back(s.cpu_ms);
    audio.push_back(s.audio_ms);
    r.speech_tokens = s.speech_tokens;
    r.chunks = s.chunks;
    for (const StageTime& st : s.stages) {
      auto it = std::find_if(stage_sums.begin(), stage_sums.end(),
                             [&](const StageResult& x) { return x.name == st.name; });
      if (it == stage_sums.end()) it = stage_sums.insert(stage_sums.end(), {st.name, 0.0, 0.0});
      it->mean_ms += st.ms;
      it->peak_rss_kib = std::max(it->peak_rss_kib, st.peak_rss_bytes / 1024);
    }
    if (progress) {
      progress(fmt::format("{}: run {}/{} {:.1f} ms, first chunk {:.1f} ms, audio {:.0f} ms",
                           r.name, i + 1, options.runs, s.latency_ms, s.ttfc_ms, s.audio_ms));
    }
  }
  const EngineMemoryStats after = engine.memory_stats();
  if (after.device_timing && options.runs > 0) {
    const auto per_run = [&](double a, double b) { return (a - b) / options.runs; };
    r.device = DeviceResult{.t3_ms = per_run(after.device_t3_ms, before.device_t3_ms),
                            .flow_ms = per_run(after.device_flow_ms, before.device_flow_ms),
                            .hift_ms = per_run(after.device_hift_ms, before.device_hift_ms),
                            .t3_steps = per_run(static_cast<double>(after.device_t3_steps),
                                                static_cast<double>(before.device_t3_steps)),
                            .peak_bytes = after.device_peak_bytes_in_use};
  }
  r.latency_ms = summarize(r.latency_samples_ms);
  r.ttfc_ms = summarize(r.ttfc_samples_ms);
  r.rtf = summarize(rtf);
  r.cpu_ms = summarize(cpu);
  r.audio_ms = summarize(audio).mean;
  for (StageResult& st : stage_sums) {
    st.mean_ms /= static_cast<double>(options.runs);
    st.share = r.latency_ms.mean > 0.0 ? st.mean_ms / r.latency_ms.mean : 0.0;
  }
  r.stages = std::move(stage_sums);
  const MemoryUsage mem = read_memory_usage();
  r.rss_kib = mem.rss_kib;
  // Without the reset, VmHWM is the process's peak so far (model loading included).
  r.peak_rss_kib = mem.hwm_kib;
  return r;
}

}  // namespace

void BenchOptions::validate() const {
  CHATTERD_CHECK(warmup >= 0, InvalidArgument, "bench: --warmup must be >= 0, got {}", warmup);
  CHATTERD_CHECK(runs >= 1, InvalidArgument, "bench: --runs must be >= 1, got {}", runs);
  (void)select_bench_texts(texts);
}

BenchReport run_bench(TtsEngine& engine, const BenchOptions& options, BenchReport report,
                      const BenchProgress& progress) {
  options.validate();
  report.metadata.warmup = options.warmup;
  report.metadata.runs = options.runs;
  report.configuration.seed = options.seed;
  report.configuration.fixed_speech_tokens = options.fixed_speech_tokens;
  report.results.clear();
  for (const BenchText& text : select_bench_texts(options.texts)) {
    report.results.push_back(measure_text(engine, text, options, progress));
  }
  compute_summary(report);
  return report;
}

std::string bench_report_svg(const BenchReport& report) {
  std::vector<DistributionRow> rows;
  for (const TextResult& r : report.results) {
    rows.push_back({r.name, r.latency_samples_ms, r.ttfc_samples_ms});
  }
  const BenchConfiguration& c = report.configuration;
  return latency_distribution_svg(
      fmt::format("{} on {} ({} threads, {}), {} runs per text, {}", c.model, c.device.cpu_model,
                  c.threads, c.dtype, report.metadata.runs, report.metadata.timestamp),
      rows);
}

WrittenFiles write_bench_outputs(const BenchReport& report, const std::filesystem::path& out_dir) {
  const std::filesystem::path stem =
      results_stem(out_dir, report.metadata.kind, report.metadata.timestamp);
  WrittenFiles files{stem.string() + ".json", stem.string() + ".svg"};
  write_text_file(files.json, to_json(report).dump(2) + "\n");
  write_text_file(files.svg, bench_report_svg(report));
  return files;
}

}  // namespace chatterd::bench
