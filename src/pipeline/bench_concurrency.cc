#include "pipeline/bench_concurrency.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "core/check.h"
#include "pipeline/bench_json.h"
#include "pipeline/bench_texts.h"
#include "pipeline/system_info.h"

namespace chatterd::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

void ConcurrencyOptions::validate() const {
  CHATTERD_CHECK(!levels.empty(), InvalidArgument, "concurrency bench: no stream counts given");
  for (const int n : levels) {
    CHATTERD_CHECK(n >= 1 && n <= 64, InvalidArgument,
                   "concurrency bench: stream count must be in 1..64, got {}", n);
  }
  CHATTERD_CHECK(requests_per_stream >= 1, InvalidArgument,
                 "concurrency bench: requests per stream must be >= 1, got {}",
                 requests_per_stream);
  CHATTERD_CHECK(!speech_tokens || *speech_tokens >= 1, InvalidArgument,
                 "concurrency bench: speech tokens must be >= 1, got {}",
                 speech_tokens.value_or(0));
  (void)select_bench_texts({text});
}

std::vector<ConcurrencyLevelResult> run_concurrency_bench(TtsEngine& engine,
                                                          const ConcurrencyOptions& options,
                                                          const ConcurrencyProgress& progress) {
  options.validate();
  const BenchText text = select_bench_texts({options.text}).front();
  const auto make_request = [&](std::uint64_t seed) {
    SynthesisRequest r;
    r.text = std::string(text.text);
    r.options.seed = seed;
    r.options.batching = options.batching;
    r.options.chunk_tokens = options.chunk_tokens;
    r.options.streaming = true;
    if (options.speech_tokens)
      r.options.max_speech_tokens = static_cast<int>(*options.speech_tokens);
    return r;
  };
  if (options.warmup) {
    (void)engine.synthesize(make_request(options.seed), [](const AudioChunk&) { return true; });
  }

  std::vector<ConcurrencyLevelResult> results;
  for (const int streams : options.levels) {
    ConcurrencyLevelResult level;
    level.streams = streams;
    level.batching = options.batching;
    level.mode = !options.mode.empty() ? options.mode : options.batching ? "on" : "off";
    std::mutex mutex;
    std::vector<double> ttfc_ms;
    std::vector<double> rtf;
    const double cpu0 = process_cpu_ms();
    const Clock::time_point start = Clock::now();
    std::vector<std::thread> threads;
    for (int s = 0; s < streams; ++s) {
      threads.emplace_back([&, s] {
        for (int i = 0; i < options.requests_per_stream; ++i) {
          const std::uint64_t seed =
              options.seed + 1000u * static_cast<std::uint64_t>(s) + static_cast<std::uint64_t>(i);
          const Clock::time_point t0 = Clock::now();
          double first_ms = -1.0;
          try {
            const SynthesisResult r = engine.synthesize(make_request(seed), [&](const AudioChunk&) {
              if (first_ms < 0.0) first_ms = seconds_since(t0) * 1000.0;
              return true;
            });
            const double wall = seconds_since(t0);
            const double audio = static_cast<double>(r.samples.size()) /
                                 static_cast<double>(std::max(1, r.sample_rate_hz));
            const std::lock_guard lock(mutex);
            ++level.requests;
            level.audio_s += audio;
            if (first_ms >= 0.0) ttfc_ms.push_back(first_ms);
            if (audio > 0.0) rtf.push_back(wall / audio);
          } catch (const std::exception& e) {
            const std::lock_guard lock(mutex);
            ++level.requests;
            if (level.errors++ == 0) level.first_error = e.what();
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    level.wall_s = seconds_since(start);
    level.cpu_s = (process_cpu_ms() - cpu0) / 1000.0;
    level.audio_s_per_s = level.wall_s > 0.0 ? level.audio_s / level.wall_s : 0.0;
    level.tokens_per_s = level.audio_s_per_s * kSpeechTokensPerSecond;
    if (!ttfc_ms.empty()) level.ttfc_ms = summarize(ttfc_ms);
    if (!rtf.empty()) level.rtf = summarize(rtf);
    if (progress) {
      progress(
          fmt::format("{} stream(s), batching {}: {:.2f} audio s/s, TTFC p50 {:.0f} ms, "
                      "{} error(s)",
                      streams, level.mode, level.audio_s_per_s, level.ttfc_ms.p50, level.errors));
    }
    results.push_back(std::move(level));
  }
  return results;
}

std::string format_concurrency_table(const std::vector<ConcurrencyLevelResult>& results) {
  std::string out =
      "| streams | batching | requests | audio s / s | speech tokens / s | TTFC p50 | TTFC p95 | "
      "RTF p50 | RTF p95 | CPU s / audio s | vocoder batch (mean; full/early/timeout/fast) | "
      "errors |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const ConcurrencyLevelResult& r : results) {
    std::string vocoder = "-";
    if (r.vocoder.is_object()) {
      const nlohmann::json& t = r.vocoder.at("batches");
      vocoder =
          fmt::format("{:.2f}; {}/{}/{}/{}", r.vocoder.at("mean_batch").get<double>(),
                      t.at("full").get<std::int64_t>(), t.at("early").get<std::int64_t>(),
                      t.at("timeout").get<std::int64_t>(), t.at("fast_path").get<std::int64_t>());
    }
    out += fmt::format(
        "| {} | {} | {} | {:.3f} | {:.1f} | {:.1f} ms | {:.1f} ms | {:.2f} | {:.2f} | {:.2f} | {} "
        "| {} |\n",
        r.streams, r.mode, r.requests, r.audio_s_per_s, r.tokens_per_s, r.ttfc_ms.p50,
        r.ttfc_ms.p95, r.rtf.p50, r.rtf.p95, r.audio_s > 0.0 ? r.cpu_s / r.audio_s : 0.0, vocoder,
        r.errors);
  }
  return out;
}

nlohmann::json concurrency_results_json(const std::vector<ConcurrencyLevelResult>& results) {
  nlohmann::json out = nlohmann::json::array();
  for (const ConcurrencyLevelResult& r : results) {
    out.push_back({{"streams", r.streams},
                   {"batching", r.batching},
                   {"mode", r.mode},
                   {"vocoder_batcher", r.vocoder},
                   {"requests", r.requests},
                   {"errors", r.errors},
                   {"first_error", r.first_error},
                   {"wall_s", r.wall_s},
                   {"cpu_s", r.cpu_s},
                   {"audio_s", r.audio_s},
                   {"audio_s_per_s", r.audio_s_per_s},
                   {"speech_tokens_per_s", r.tokens_per_s},
                   {"ttfc_ms", summary_to_json(r.ttfc_ms)},
                   {"rtf", summary_to_json(r.rtf)}});
  }
  return out;
}

}  // namespace chatterd::bench
