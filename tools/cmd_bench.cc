// chatterd bench: the standard texts through one engine in-process, results as JSON + SVG under
// benchmarks/results/; `chatterd bench compare A.json B.json` prints the before/after table.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "chatterd/engine/tts_engine.h"
#include "core/check.h"
#include "pipeline/bench_compare.h"
#include "pipeline/bench_concurrency.h"
#include "pipeline/bench_runner.h"
#include "pipeline/bench_texts.h"
#include "pipeline/chatterbox_engine.h"
#include "pipeline/engine_factory.h"
#include "pipeline/system_info.h"
#include "tools/commands.h"

#ifndef CHATTERD_VERSION
#define CHATTERD_VERSION "unknown"
#endif
#ifndef CHATTERD_GIT_DESCRIBE
#define CHATTERD_GIT_DESCRIBE "unknown"
#endif

namespace chatterd::tools {

std::string chatterd_version_string() {
  return std::string(CHATTERD_VERSION) + " (" + CHATTERD_GIT_DESCRIBE + ")";
}

namespace {

// The synthetic default voice (chatterbox_engine_load.cc kSynthetic*PromptTokens): the sizes a
// 10 s reference clip gives.
constexpr const char* kSyntheticVoice =
    "synthetic default voice, the size of a 10 s clip: T3 prompt 375 speech tokens, S3Gen prompt "
    "250 tokens / 500 mel frames";

bench::BenchReport configured_report(const std::string& model, const TtsEngine& engine,
                                     int threads_requested, double load_ms, const std::string& note,
                                     WeightDType dtype) {
  bench::BenchReport r;
  r.metadata.kind = "bench";
  r.metadata.timestamp = bench::utc_timestamp_now();
  r.metadata.note = note;
  bench::BenchConfiguration& c = r.configuration;
  c.device = bench::read_machine_info();
  c.chatterd_version = chatterd_version_string();
  c.model = model;
  c.engine = engine.info().name;
  const auto* chatterbox = dynamic_cast<const ChatterboxEngine*>(&engine);
  c.threads = chatterbox != nullptr ? chatterbox->n_threads() : threads_requested;
  // Only the Chatterbox T3 matrices change format; espeak has no weights.
  c.dtype = chatterbox != nullptr ? std::string(weight_dtype_name(dtype)) : "n/a";
  if (chatterbox != nullptr && dtype != WeightDType::F32) {
    c.optimisations.push_back("t3 weights: " + std::string(weight_dtype_name(dtype)));
  }
  if (engine.info().device != "cpu") c.optimisations.push_back("t3 on " + engine.info().device);
  if (engine.info().vocoder_device != "cpu") {
    c.optimisations.push_back("vocoder (flow estimator, HiFT convs) on " +
                              engine.info().vocoder_device);
  }
  if (chatterbox != nullptr && chatterbox->bf16_vocoder()) {
    c.optimisations.push_back("vocoder: bf16 (avx512_bf16)");
  }
  c.optimisations.insert(c.optimisations.begin(),
                         {"cpu kernels: " + c.device.isa, "blas: openblas"});
  if (const char* isa = std::getenv("CHATTERD_CPU_ISA"); isa != nullptr && *isa != '\0') {
    c.optimisations.push_back(std::string("CHATTERD_CPU_ISA=") + isa);
  }
  c.batch_size = 1;
  const ModelSpec spec = parse_model_spec(model);
  if (std::holds_alternative<SyntheticModel>(spec)) {
    c.voice = kSyntheticVoice;
  } else if (std::holds_alternative<EspeakModel>(spec)) {
    c.voice = "espeak voice " + std::get<EspeakModel>(spec).voice;
  } else {
    c.voice = "the model's default voice (conds.pt)";
  }
  c.load_ms = load_ms;
  c.rss_after_load_kib = bench::read_memory_usage().rss_kib;
  return r;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (const char ch : s + ",") {
    if (ch == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (ch != ' ') {
      cur += ch;
    }
  }
  return out;
}

void print_result(const bench::TextResult& r) {
  std::fprintf(stderr,
               "%-18s words %3lld audio %7.0f ms | latency mean %8.1f p50 %8.1f p95 %8.1f ms | "
               "TTFC p50 %8.1f ms | RTF %.3f | CPU %8.1f ms | peak RSS %.0f MiB\n",
               r.name.c_str(), static_cast<long long>(r.words), r.audio_ms, r.latency_ms.mean,
               r.latency_ms.p50, r.latency_ms.p95, r.ttfc_ms.p50, r.rtf.mean, r.cpu_ms.mean,
               static_cast<double>(r.peak_rss_kib) / 1024.0);
  for (const bench::StageResult& s : r.stages) {
    std::fprintf(stderr, "    %-14s %8.1f ms %5.1f %% | peak RSS %6.0f MiB\n", s.name.c_str(),
                 s.mean_ms, 100.0 * s.share, static_cast<double>(s.peak_rss_kib) / 1024.0);
  }
}

// Everything `chatterd bench` is told on the command line.
struct BenchArgs {
  std::string model = "espeak";
  int warmup = 5;
  int runs = 20;
  std::string texts;
  int threads = 0;
  std::string dtype = "f32";
  std::string vocoder_dtype = "f32";
  std::string device = "cpu";
  std::string out_dir = "benchmarks/results";
  std::uint64_t seed = 42;
  std::string note;
  bool quiet = false;
  std::string before;
  std::string after;
  std::string streams;  // "1,2,4,8": the concurrency mode
  int requests_per_stream = 1;
  int max_batch = 0;      // 0: the largest stream count (Turbo/Nano)
  int vocoder_batch = 0;  // 0: the largest stream count; 1: no vocoder batching
  double vocoder_max_wait_ms = 5.0;
  double vocoder_early_fire_ratio = 0.75;
};

// The vocoder batcher's work between two snapshots of its statistics.
nlohmann::json vocoder_stats_json(const VocoderBatcherStats& a, const VocoderBatcherStats& b) {
  const std::int64_t windows = b.windows - a.windows;
  const std::int64_t fired = b.fired() - a.fired();
  nlohmann::json batches;
  for (int t = 0; t < kVocoderBatchTriggers; ++t) {
    const auto i = static_cast<std::size_t>(t);
    batches[std::string(vocoder_batch_trigger_name(static_cast<VocoderBatchTrigger>(t)))] =
        b.by_trigger[i] - a.by_trigger[i];
  }
  const std::int64_t frames = b.frames - a.frames;
  return {
      {"windows", windows},
      {"batches", batches},
      {"sub_batches", b.sub_batches - a.sub_batches},
      {"mean_batch", fired > 0 ? static_cast<double>(windows) / static_cast<double>(fired) : 0.0},
      {"max_batch", b.max_batch},
      {"mean_wait_ms", windows > 0 ? (b.wait_ms - a.wait_ms) / static_cast<double>(windows) : 0.0},
      {"padding_share", frames > 0 ? static_cast<double>(b.padded_frames - a.padded_frames) /
                                         static_cast<double>(frames)
                                   : 0.0}};
}

int run_concurrency_mode(const BenchArgs& args) {
  bench::ConcurrencyOptions options;
  options.levels.clear();
  for (const std::string& n : split_commas(args.streams)) {
    try {
      options.levels.push_back(std::stoi(n));
    } catch (const std::exception&) {
      CHATTERD_THROW(InvalidArgument, "--streams: '{}' is not a number", n);
    }
  }
  options.requests_per_stream = args.requests_per_stream;
  const std::vector<std::string> texts = split_commas(args.texts);
  if (!texts.empty()) options.text = texts.front();
  options.seed = args.seed;
  const bool synthetic = std::holds_alternative<SyntheticModel>(parse_model_spec(args.model));
  if (synthetic) {
    const bench::BenchText t = bench::select_bench_texts({options.text}).front();
    options.speech_tokens = bench::fixed_speech_tokens(bench::count_words(t.text));
  }
  options.validate();
  CHATTERD_CHECK(args.max_batch >= 0, InvalidArgument, "--max-batch must be >= 0, got {}",
                 args.max_batch);
  const EngineConfig config{.model = args.model,
                            .n_threads = args.threads,
                            .t3_dtype = parse_weight_dtype(args.dtype),
                            .vocoder_dtype = parse_weight_dtype(args.vocoder_dtype),
                            .device = parse_device_spec(args.device)};
  config.validate();
  const std::unique_ptr<TtsEngine> engine = create_engine(config);
  const int largest = *std::max_element(options.levels.begin(), options.levels.end());
  const int max_batch = args.max_batch > 0 ? args.max_batch : largest;
  const int vocoder_batch = args.vocoder_batch > 0 ? args.vocoder_batch : largest;
  auto* chatterbox = dynamic_cast<ChatterboxEngine*>(engine.get());
  bool batching = false;
  if (chatterbox != nullptr && max_batch > 1) {
    try {
      chatterbox->enable_batching(T3BatchLoopConfig{.max_batch = max_batch});
      batching = true;
    } catch (const Unsupported& e) {
      std::fprintf(stderr, "batching: %s\n", e.what());
    }
  }
  const bool vocoder = chatterbox != nullptr && vocoder_batch > 1;
  std::fprintf(stderr,
               "chatterd bench --streams: %s, text %s, %s speech tokens, T3 batch %d, vocoder "
               "batch %d\n",
               args.model.c_str(), options.text.c_str(),
               options.speech_tokens ? std::to_string(*options.speech_tokens).c_str() : "model's",
               batching ? max_batch : 1, vocoder ? vocoder_batch : 1);
  bench::ConcurrencyProgress progress;
  if (!args.quiet) {
    progress = [](const std::string& line) { std::fprintf(stderr, "  %s\n", line.c_str()); };
  }
  // Modes side by side on one engine: nothing batched; T3 steps batched; T3 steps and the
  // vocoder's flow solves batched (models without T3 batching: the vocoder alone).
  struct Mode {
    std::string name;
    bool batching;
    bool vocoder;
  };
  // On a device every request goes through its batch loop: there is no unbatched T3 mode.
  const bool on_device = engine->info().device != "cpu";
  std::vector<Mode> modes;
  if (!on_device) modes.push_back({"off", false, false});
  if (batching || on_device) modes.push_back({"t3", true, false});
  if (vocoder) modes.push_back({batching ? "t3+vocoder" : "vocoder", true, true});
  std::vector<bench::ConcurrencyLevelResult> results;
  bool first = true;
  for (const Mode& mode : modes) {
    if (chatterbox != nullptr) {
      chatterbox->disable_vocoder_batching();
      if (mode.vocoder) {
        chatterbox->enable_vocoder_batching(
            VocoderBatcherConfig{.max_batch_size = vocoder_batch,
                                 .max_wait_ms = args.vocoder_max_wait_ms,
                                 .early_fire_ratio = args.vocoder_early_fire_ratio});
      }
    }
    options.batching = mode.batching;
    options.mode = mode.name;
    for (const int level : std::vector<int>(options.levels)) {
      bench::ConcurrencyOptions one = options;
      one.levels = {level};
      one.warmup = first;
      first = false;
      const VocoderBatcherStats before =
          chatterbox != nullptr ? chatterbox->vocoder_batching_stats() : VocoderBatcherStats{};
      auto r = bench::run_concurrency_bench(*engine, one, progress);
      if (mode.vocoder)
        r.front().vocoder = vocoder_stats_json(before, chatterbox->vocoder_batching_stats());
      results.insert(results.end(), r.begin(), r.end());
    }
  }
  std::fputs(bench::format_concurrency_table(results).c_str(), stdout);
  const std::string timestamp = bench::utc_timestamp_now();
  nlohmann::json j{{"kind", "concurrency"},
                   {"timestamp", timestamp},
                   {"model", args.model},
                   {"dtype", args.dtype},
                   {"vocoder_dtype", args.vocoder_dtype},
                   {"text", options.text},
                   {"speech_tokens", options.speech_tokens.value_or(0)},
                   {"max_batch", batching ? max_batch : 1},
                   {"vocoder_batch", vocoder ? vocoder_batch : 1},
                   {"vocoder_max_wait_ms", args.vocoder_max_wait_ms},
                   {"vocoder_early_fire_ratio", args.vocoder_early_fire_ratio},
                   {"device", bench::read_machine_info().cpu_model},
                   {"t3_device", engine->info().device},
                   {"vocoder_device", engine->info().vocoder_device},
                   {"note", args.note},
                   {"results", bench::concurrency_results_json(results)}};
  std::filesystem::path path = bench::results_stem(args.out_dir, "concurrency", timestamp);
  path += ".json";
  bench::write_text_file(path, j.dump(2) + "\n");
  std::printf("%s\n", path.c_str());
  return 0;
}

}  // namespace

Command add_bench_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "bench",
      "Benchmark the standard texts in-process; JSON + SVG under benchmarks/results/ "
      "(`bench compare A.json B.json` compares two results)");

  auto args = std::make_shared<BenchArgs>();
  sub->add_option("--model", args->model,
                  "espeak | espeak:VOICE | model directory | synthetic:VARIANT (synthetic models "
                  "generate a fixed round(words / 2.6 * 25) speech tokens per text)")
      ->capture_default_str();
  sub->add_option("--warmup", args->warmup, "warm-up runs per text")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  sub->add_option("--runs", args->runs, "measured runs per text")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  sub->add_option("--texts", args->texts,
                  "comma-separated subset of ultra_short,short,medium,long,telephony_typical "
                  "(default: all)");
  sub->add_option("--threads", args->threads, "engine CPU threads (0: one per core)")
      ->check(CLI::Range(0, 1024));
  sub->add_option("--dtype", args->dtype, "T3 matrix weights: f32 | f16 | bf16 | int8 | int4")
      ->check(CLI::IsMember({"f32", "f16", "bf16", "int8", "int4"}))
      ->capture_default_str();
  sub->add_option("--vocoder-dtype", args->vocoder_dtype,
                  "S3Gen + HiFT matmuls and convs: f32 | bf16 (AVX512_BF16 CPUs)")
      ->check(CLI::IsMember({"f32", "bf16"}))
      ->capture_default_str();
  sub->add_option(
         "--device", args->device,
         "where the model runs: cpu | cuda | cuda:N (Chatterbox models: T3, the S3Gen flow and "
         "HiFT's conv stack on the GPU; HiFT's f0 predictor, source and STFTs on the CPU; on CUDA "
         "every request joins the device's batch loop)")
      ->capture_default_str();
  sub->add_option("--out-dir", args->out_dir, "where the JSON and SVG go")->capture_default_str();
  sub->add_option("--seed", args->seed, "sampling seed of every run")->capture_default_str();
  sub->add_option("--note", args->note,
                  "free text stored in metadata.note (e.g. 'machine contended')");
  sub->add_flag("--quiet", args->quiet, "no per-run progress lines");
  sub->add_option("--streams", args->streams,
                  "concurrency mode: comma-separated stream counts (e.g. 1,2,4,8); each level "
                  "runs with batching off, T3 batching on (Turbo/Nano), then T3 + vocoder "
                  "batching; first text only");
  sub->add_option("--requests-per-stream", args->requests_per_stream,
                  "concurrency mode: requests each stream runs back to back")
      ->capture_default_str();
  sub->add_option("--max-batch", args->max_batch,
                  "concurrency mode: T3 batch size (0: the largest stream count; 1: no batching)")
      ->capture_default_str();
  sub->add_option("--vocoder-batch", args->vocoder_batch,
                  "concurrency mode: vocoder batch size (0: the largest stream count; 1: none)")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  sub->add_option("--vocoder-max-wait-ms", args->vocoder_max_wait_ms,
                  "concurrency mode: a vocoder window waits at most this long for its batch")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  sub->add_option("--vocoder-early-fire", args->vocoder_early_fire_ratio,
                  "concurrency mode: fire a vocoder batch once this share of it waits")
      ->check(CLI::Range(0.01, 1.0))
      ->capture_default_str();

  auto* compare = sub->add_subcommand(
      "compare",
      "Before/after table of two `chatterd bench` results with pass/miss against the "
      "design targets");
  compare->add_option("before", args->before, "results JSON (before)")->required();
  compare->add_option("after", args->after, "results JSON (after)")->required();
  sub->require_subcommand(0, 1);

  return {sub, [args, compare] {
            if (compare->parsed()) {
              const bench::BenchReport a = bench::load_bench_report(args->before);
              const bench::BenchReport b = bench::load_bench_report(args->after);
              const bench::Comparison c = bench::compare_bench_reports(a, b);
              std::fputs(bench::format_comparison(c).c_str(), stdout);
              return 0;
            }
            if (!args->streams.empty()) return run_concurrency_mode(*args);
            bench::BenchOptions options;
            options.warmup = args->warmup;
            options.runs = args->runs;
            options.texts = split_commas(args->texts);
            options.seed = args->seed;
            options.fixed_speech_tokens =
                std::holds_alternative<SyntheticModel>(parse_model_spec(args->model));
            options.validate();

            const WeightDType dtype = parse_weight_dtype(args->dtype);
            const EngineConfig config{.model = args->model,
                                      .n_threads = args->threads,
                                      .t3_dtype = dtype,
                                      .vocoder_dtype = parse_weight_dtype(args->vocoder_dtype),
                                      .device = parse_device_spec(args->device)};
            config.validate();
            const auto t0 = std::chrono::steady_clock::now();
            const std::unique_ptr<TtsEngine> engine = create_engine(config);
            const double load_ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                    .count();
            bench::BenchReport report =
                configured_report(args->model, *engine, args->threads, load_ms, args->note, dtype);
            std::fprintf(stderr, "chatterd bench: %s (%s), %d threads, loaded in %.0f ms\n",
                         args->model.c_str(), report.configuration.engine.c_str(),
                         report.configuration.threads, load_ms);
            bench::BenchProgress progress;
            if (!args->quiet) {
              progress = [](const std::string& line) {
                std::fprintf(stderr, "  %s\n", line.c_str());
              };
            }
            report = bench::run_bench(*engine, options, std::move(report), progress);
            for (const bench::TextResult& r : report.results) print_result(r);
            const bench::WrittenFiles files = bench::write_bench_outputs(report, args->out_dir);
            std::printf("%s\n%s\n", files.json.c_str(), files.svg.c_str());
            return 0;
          }};
}

}  // namespace chatterd::tools
