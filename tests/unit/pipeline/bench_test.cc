// chatterd bench: statistics, texts, the results JSON (round trip, strict reading), compare,
// the SVG, and a real short run with the espeak engine.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "chatterd/core/error.h"
#include "chatterd/engine/tts_engine.h"
#include "pipeline/bench_compare.h"
#include "pipeline/bench_concurrency.h"
#include "pipeline/bench_json.h"
#include "pipeline/bench_report.h"
#include "pipeline/bench_runner.h"
#include "pipeline/bench_stats.h"
#include "pipeline/bench_svg.h"
#include "pipeline/bench_texts.h"
#include "pipeline/engine_factory.h"

namespace chatterd::bench {
namespace {

std::filesystem::path temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("chatterd_bench_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t count_of(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + 1)) ++n;
  return n;
}

TEST(BenchStats, PercentilesMatchHandComputedValues) {
  // Sorted: 1 1 2 3 3 4 5 5 5 6 9 (n = 11). Linear interpolation at rank p/100 * 10:
  // p50 -> rank 5 = 4; p95 -> rank 9.5 = 6 + 0.5 * 3 = 7.5; p99 -> rank 9.9 = 6 + 0.9 * 3 = 8.7.
  // Mean 44 / 11 = 4; squared deviations sum to 56, sample std = sqrt(56 / 10).
  const std::vector<double> v{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5};
  const SampleSummary s = summarize(v);
  EXPECT_EQ(s.n, 11);
  EXPECT_DOUBLE_EQ(s.mean, 4.0);
  EXPECT_NEAR(s.std, std::sqrt(5.6), 1e-12);
  EXPECT_DOUBLE_EQ(s.p50, 4.0);
  EXPECT_NEAR(s.p95, 7.5, 1e-12);
  EXPECT_NEAR(s.p99, 8.7, 1e-12);
  EXPECT_DOUBLE_EQ(s.min, 1.0);
  EXPECT_DOUBLE_EQ(s.max, 9.0);
}

TEST(BenchStats, TwoAndOneSamples) {
  const std::vector<double> two{20.0, 10.0};
  const SampleSummary s = summarize(two);
  EXPECT_DOUBLE_EQ(s.p50, 15.0);
  EXPECT_DOUBLE_EQ(s.p95, 19.5);
  EXPECT_DOUBLE_EQ(s.std, std::sqrt(50.0));
  const std::vector<double> one{7.0};
  const SampleSummary t = summarize(one);
  EXPECT_DOUBLE_EQ(t.p99, 7.0);
  EXPECT_DOUBLE_EQ(t.std, 0.0);
}

TEST(BenchStats, RefusesEmptyAndNonFinite) {
  EXPECT_THROW(summarize(std::vector<double>{}), InvalidArgument);
  EXPECT_THROW(summarize(std::vector<double>{1.0, NAN}), InvalidArgument);
  const std::vector<double> one{1.0};
  EXPECT_THROW(percentile_sorted(one, 101.0), InvalidArgument);
}

TEST(BenchTexts, StandardTextsWordsAndFixedTokens) {
  const auto texts = standard_bench_texts();
  ASSERT_EQ(texts.size(), 5u);
  EXPECT_EQ(texts[0].name, "ultra_short");
  EXPECT_EQ(texts[0].text, "Hello there.");
  EXPECT_EQ(texts[1].text, "Hi, this is Sarah from customer service. How can I help you today?");
  // words -> round(words / 2.6 * 25)
  const std::int64_t words[] = {2, 13, 26, 46, 35};
  const std::int64_t tokens[] = {19, 125, 250, 442, 337};
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(count_words(texts[i].text), words[i]) << texts[i].name;
    EXPECT_EQ(fixed_speech_tokens(words[i]), tokens[i]) << texts[i].name;
  }
}

TEST(BenchTexts, SelectKeepsStandardOrderAndRefusesUnknown) {
  const auto sel = select_bench_texts({"long", "short"});
  ASSERT_EQ(sel.size(), 2u);
  EXPECT_EQ(sel[0].name, "short");
  EXPECT_EQ(sel[1].name, "long");
  EXPECT_EQ(select_bench_texts({}).size(), 5u);
  EXPECT_THROW(select_bench_texts({"shrt"}), InvalidArgument);
}

TextResult crafted_text(const std::string& name, std::vector<double> latency,
                        std::vector<double> ttfc, double audio_ms) {
  TextResult r;
  r.name = name;
  r.text = std::string(select_bench_texts({name}).front().text);
  r.words = count_words(r.text);
  r.forced_speech_tokens = fixed_speech_tokens(r.words);
  r.speech_tokens = *r.forced_speech_tokens + 3;
  r.chunks = 1;
  r.audio_ms = audio_ms;
  r.latency_samples_ms = latency;
  r.ttfc_samples_ms = ttfc;
  r.latency_ms = summarize(latency);
  r.ttfc_ms = summarize(ttfc);
  std::vector<double> rtf;
  for (const double l : latency) rtf.push_back(l / audio_ms);
  r.rtf = summarize(rtf);
  r.cpu_ms = summarize(latency);
  r.peak_rss_kib = 1024 * 300;
  r.rss_kib = 1024 * 280;
  r.peak_rss_per_text = true;
  r.stages = {{"t3_decode", latency[0] * 0.6, 0.6, 290 * 1024},
              {"hift", latency[0] * 0.4, 0.4, 300 * 1024}};
  return r;
}

BenchReport crafted_report(double scale) {
  BenchReport r;
  r.metadata.timestamp = "2026-11-23T20:40:05Z";
  r.metadata.warmup = 1;
  r.metadata.runs = 4;
  r.metadata.note = "crafted";
  r.configuration.device.cpu_model = "Test CPU";
  r.configuration.device.logical_cores = 2;
  r.configuration.device.memory_total_kib = 1 << 20;
  r.configuration.device.isa = "avx2";
  r.configuration.device.isas_supported = {"scalar", "avx2"};
  r.configuration.device.os = "Linux";
  r.configuration.chatterd_version = "0.1.0 (test)";
  r.configuration.model = "synthetic:nano";
  r.configuration.engine = "chatterbox-nano (synthetic)";
  r.configuration.threads = 2;
  r.configuration.fixed_speech_tokens = true;
  r.configuration.seed = 42;
  r.configuration.voice = "synthetic";
  r.configuration.load_ms = 1234.5;
  r.configuration.rss_after_load_kib = 200 * 1024;
  // short: latency p50 = 500 * scale; ttfc p50 = 350 * scale.
  r.results.push_back(crafted_text("short", {480 * scale, 490 * scale, 510 * scale, 520 * scale},
                                   {340 * scale, 345 * scale, 355 * scale, 360 * scale}, 5120.0));
  r.results.push_back(crafted_text("ultra_short",
                                   {100 * scale, 110 * scale, 120 * scale, 130 * scale},
                                   {90 * scale, 95 * scale, 100 * scale, 105 * scale}, 880.0));
  compute_summary(r);
  return r;
}

TEST(BenchReport, SummaryChecksTargetsOnTheWorstText) {
  const BenchReport r = crafted_report(1.0);
  EXPECT_EQ(r.summary.texts, 2);
  EXPECT_EQ(r.summary.measured_runs, 8);
  ASSERT_EQ(r.summary.targets.size(), 5u);
  EXPECT_EQ(r.summary.targets[0].metric, "ttfc_p50_ms");
  EXPECT_DOUBLE_EQ(r.summary.targets[0].value, 350.0);  // short's TTFC p50
  EXPECT_TRUE(r.summary.targets[0].pass);
  EXPECT_EQ(r.summary.targets[2].metric, "latency_p50_ms");
  EXPECT_DOUBLE_EQ(r.summary.targets[2].value, 500.0);
  EXPECT_FALSE(r.summary.targets[2].pass);  // 500 >= 450
}

TEST(BenchReport, JsonRoundTrip) {
  const BenchReport a = crafted_report(1.0);
  const nlohmann::json j = to_json(a);
  const BenchReport b = bench_report_from_json(j, "mem");
  EXPECT_EQ(to_json(b), j);
  EXPECT_EQ(b.results[0].name, "short");
  EXPECT_EQ(b.results[0].forced_speech_tokens, 125);
  EXPECT_EQ(b.configuration.device.isa, "avx2");
  EXPECT_EQ(j["results"][0]["stages"][1]["peak_rss_kib"], 300 * 1024);
  EXPECT_EQ(b.results[0].stages[1].peak_rss_kib, 300 * 1024);
  // A text without forced tokens serialises as null and reads back unset.
  BenchReport c = a;
  c.results[1].forced_speech_tokens.reset();
  const BenchReport d = bench_report_from_json(to_json(c), "mem");
  EXPECT_FALSE(d.results[1].forced_speech_tokens.has_value());
  EXPECT_TRUE(to_json(c)["results"][1]["forced_speech_tokens"].is_null());
  // A CPU run has no device figures (null); a GPU run's survive the trip.
  EXPECT_TRUE(j["results"][0]["device"].is_null());
  EXPECT_FALSE(b.results[0].device.has_value());
  c.results[0].device = DeviceResult{.t3_ms = 41.5,
                                     .flow_ms = 12.25,
                                     .hift_ms = 3.5,
                                     .t3_steps = 133.0,
                                     .peak_bytes = std::int64_t{3} << 30};
  const nlohmann::json jd = to_json(c);
  const BenchReport e = bench_report_from_json(jd, "mem");
  ASSERT_TRUE(e.results[0].device.has_value());
  EXPECT_DOUBLE_EQ(e.results[0].device->flow_ms, 12.25);
  EXPECT_EQ(e.results[0].device->peak_bytes, std::int64_t{3} << 30);
  EXPECT_EQ(to_json(e), jd);
}

// Reports written before stages measured memory have no stages[i].peak_rss_kib: it reads as 0.
TEST(BenchReport, StagesWithoutPeakRssReadAsZero) {
  nlohmann::json j = to_json(crafted_report(1.0));
  for (nlohmann::json& text : j["results"]) {
    for (nlohmann::json& stage : text["stages"]) stage.erase("peak_rss_kib");
  }
  const BenchReport b = bench_report_from_json(j, "old.json");
  ASSERT_EQ(b.results[0].stages.size(), 2u);
  EXPECT_EQ(b.results[0].stages[0].peak_rss_kib, 0);
  EXPECT_EQ(b.results[0].stages[1].peak_rss_kib, 0);
  EXPECT_DOUBLE_EQ(b.results[0].stages[1].share, 0.4);
}

std::string error_of(const nlohmann::json& j) {
  try {
    bench_report_from_json(j, "bad.json");
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(BenchReport, MalformedFilesAreRefusedWithThePath) {
  const nlohmann::json good = to_json(crafted_report(1.0));
  nlohmann::json j = good;
  j["results"][0].erase("ttfc_ms");
  EXPECT_EQ(error_of(j), "bad.json: results[0].ttfc_ms: missing");
  j = good;
  j["results"][1]["latency_ms"]["p95"] = "fast";
  EXPECT_EQ(error_of(j), "bad.json: results[1].latency_ms.p95: expected a number, got string");
  j = good;
  j["metadata"]["kind"] = "loadtest";
  EXPECT_NE(error_of(j).find("not a `chatterd bench` result"), std::string::npos);
  j = good;
  j["metadata"]["schema_version"] = 2;
  EXPECT_NE(error_of(j).find("schema_version: is 2"), std::string::npos);
  j = good;
  j["results"][0]["latency_ms"]["p50"] = 1e6;  // above p95
  EXPECT_NE(error_of(j).find("percentiles out of order"), std::string::npos);
  j = good;
  j["results"][0]["samples"]["latency_ms"].push_back(1.0);
  EXPECT_NE(error_of(j).find("sample count differs"), std::string::npos);
  j = good;
  j["results"] = nlohmann::json::array();
  EXPECT_EQ(error_of(j), "bad.json: results: empty");
  EXPECT_EQ(error_of(nlohmann::json::array()),
            "bad.json: (top level): expected an object, got array");
}

TEST(BenchReport, LoadRefusesNonJsonAndMissingFiles) {
  const auto dir = temp_dir("load");
  std::ofstream(dir / "x.json") << "{\"metadata\": ";
  try {
    load_bench_report(dir / "x.json");
    FAIL() << "accepted truncated JSON";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("x.json: not valid JSON"), std::string::npos);
  }
  EXPECT_THROW(load_bench_report(dir / "missing.json"), IoError);
  std::filesystem::remove_all(dir);
}

TEST(BenchCompare, ChangeAndPassMissOnCraftedFiles) {
  const BenchReport before = crafted_report(1.0);
  const BenchReport after = crafted_report(0.8);  // 20 % faster everywhere
  const Comparison c = compare_bench_reports(before, after);
  EXPECT_TRUE(c.notes.empty());
  const auto row = [&](const std::string& text, const std::string& metric) {
    for (const CompareRow& r : c.rows) {
      if (r.text == text && r.metric == metric) return r;
    }
    ADD_FAILURE() << "no row " << text << " " << metric;
    return CompareRow{};
  };
  const CompareRow p50 = row("short", "latency_ms.p50");
  EXPECT_DOUBLE_EQ(p50.before, 500.0);
  EXPECT_DOUBLE_EQ(p50.after, 400.0);
  EXPECT_NEAR(*p50.change_pct, -20.0, 1e-9);
  EXPECT_EQ(*p50.target, 450.0);
  EXPECT_FALSE(p50.before_pass);
  EXPECT_TRUE(p50.after_pass);
  const CompareRow p99 = row("short", "latency_ms.p99");
  EXPECT_TRUE(p99.before_pass && p99.after_pass);  // 519.7 and 415.8 < 750
  const CompareRow rtf = row("short", "rtf.mean");
  EXPECT_NEAR(rtf.before, 500.0 / 5120.0, 1e-12);
  EXPECT_TRUE(rtf.after_pass);
  EXPECT_FALSE(row("short", "cpu_ms.mean").target.has_value());
  const CompareRow sum = row("summary", "latency_p95_ms_max");
  EXPECT_NEAR(sum.before, 518.5, 1e-9);  // short: 510 + 0.85 * 10
  EXPECT_FALSE(sum.before_pass);
  EXPECT_TRUE(sum.after_pass);

  const std::string table = format_comparison(c);
  EXPECT_NE(table.find("latency_ms.p50"), std::string::npos);
  EXPECT_NE(table.find("-20.0%"), std::string::npos);
  EXPECT_NE(table.find("miss -> pass"), std::string::npos);
}

TEST(BenchCompare, NotesConfigurationDifferences) {
  BenchReport after = crafted_report(1.0);
  after.configuration.dtype = "int8";
  const Comparison c = compare_bench_reports(crafted_report(1.0), after);
  ASSERT_EQ(c.notes.size(), 1u);
  EXPECT_EQ(c.notes[0], "dtype: f32 -> int8");
}

TEST(BenchCompare, RefusesMismatchedWorkloads) {
  const BenchReport a = crafted_report(1.0);
  BenchReport b = crafted_report(1.0);
  b.results.pop_back();
  EXPECT_THROW(compare_bench_reports(a, b), InvalidArgument);
  b = crafted_report(1.0);
  b.results[0].text = "Something else entirely.";
  EXPECT_THROW(compare_bench_reports(a, b), InvalidArgument);
  b = crafted_report(1.0);
  b.results[0].forced_speech_tokens.reset();
  try {
    compare_bench_reports(a, b);
    FAIL() << "accepted different token counts";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("(125 vs none)"), std::string::npos) << e.what();
  }
}

TEST(BenchSvg, TicksAndEscaping) {
  EXPECT_EQ(nice_ticks(9.0), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(nice_ticks(430.0), (std::vector<double>{0, 100, 200, 300, 400, 500}));
  EXPECT_EQ(xml_escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
}

TEST(BenchSvg, DistributionAndConcurrencyPlotsAreWellFormed) {
  const std::string s =
      latency_distribution_svg("t <1>", {{"short", {1, 2, 3}, {0.5, 0.6, 0.7}}, {"long", {9}, {}}});
  EXPECT_EQ(s.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_EQ(s.substr(s.size() - 7), "</svg>\n");
  EXPECT_EQ(count_of(s, "<circle"), 7u);  // one dot per sample
  EXPECT_NE(s.find("t &lt;1&gt;"), std::string::npos);
  EXPECT_THROW(latency_distribution_svg("x", {}), InvalidArgument);

  const std::string t = ttfc_vs_concurrency_svg("c", {{1, 100, 150, 200}, {3, 300, 450, 600}}, 400);
  EXPECT_EQ(count_of(t, "<polyline"), 3u);
  EXPECT_EQ(count_of(t, "<circle"), 6u);
  EXPECT_NE(t.find("target 400 ms"), std::string::npos);
}

TEST(BenchRun, EspeakShortRunWritesValidJsonAndSvg) {
  const auto engine = create_engine(EngineConfig{.model = "espeak", .n_threads = 1});
  BenchOptions options;
  options.warmup = 1;
  options.runs = 2;
  options.texts = {"ultra_short", "short"};
  BenchReport report;
  report.metadata.timestamp = utc_timestamp_now();
  report.configuration.model = "espeak";
  report.configuration.engine = engine->info().name;
  report.configuration.device = read_machine_info();
  int progress_lines = 0;
  report = run_bench(*engine, options, report, [&](const std::string&) { ++progress_lines; });
  EXPECT_EQ(progress_lines, 2 * (1 + 2));
  ASSERT_EQ(report.results.size(), 2u);
  for (const TextResult& r : report.results) {
    EXPECT_EQ(r.latency_ms.n, 2);
    EXPECT_GT(r.audio_ms, 300.0) << r.name;
    EXPECT_GT(r.chunks, 0);
    EXPECT_FALSE(r.forced_speech_tokens.has_value());
    EXPECT_LE(r.ttfc_ms.max, r.latency_ms.max);
    EXPECT_GT(r.ttfc_ms.min, 0.0);
    EXPECT_GT(r.peak_rss_kib, 0);
    ASSERT_EQ(r.stages.size(), 2u);
    EXPECT_EQ(r.stages[0].name, "espeak");
    EXPECT_EQ(r.stages[1].name, "resample");
    EXPECT_NEAR(r.stages[0].mean_ms + r.stages[1].mean_ms, r.latency_ms.mean,
                0.05 * r.latency_ms.mean + 1.0);
  }
  EXPECT_GT(report.results[1].audio_ms, 2.0 * report.results[0].audio_ms);  // short > ultra_short

  const auto dir = temp_dir("run");
  const WrittenFiles files = write_bench_outputs(report, dir);
  EXPECT_TRUE(
      std::regex_match(files.json.filename().string(), std::regex(R"(bench_\d{8}_\d{6}\.json)")));
  EXPECT_EQ(files.svg.parent_path(), files.json.parent_path());
  const BenchReport back = load_bench_report(files.json);
  EXPECT_EQ(to_json(back), to_json(report));
  const std::string svg = read_file(files.svg);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_EQ(count_of(svg, "<circle"), 8u);  // 2 texts x (2 latency + 2 TTFC)
  // The same workload compares with itself: every change is 0.
  for (const CompareRow& row : compare_bench_reports(back, report).rows) {
    if (row.change_pct) {
      EXPECT_DOUBLE_EQ(*row.change_pct, 0.0) << row.metric;
    }
  }
  std::filesystem::remove_all(dir);
}

// Reports stage "grow" with a peak resident set of 1, 2, 3, ... MiB on successive calls (the
// first warm-up call 100 MiB) and stage "flat" unmeasured.
class StagePeakEngine final : public TtsEngine {
 public:
  const EngineInfo& info() const override { return info_; }
  SynthesisResult synthesize(const SynthesisRequest& /*request*/,
                             const ChunkCallback& on_chunk) override {
    SynthesisResult r;
    r.samples.assign(2400, 0.0f);
    if (on_chunk) on_chunk(AudioChunk{r.samples, r.sample_rate_hz, 0, true});
    const std::int64_t mib = calls_++ == 0 ? 100 : calls_ - 1;
    r.stats.stages = {{"grow", 1.0, mib * 1024 * 1024}, {"flat", 1.0, 0}};
    return r;
  }

 private:
  EngineInfo info_{"stage-peak", 24000, {"default"}};
  std::int64_t calls_ = 0;
};

TEST(BenchRun, StagePeakRssIsTheLargestOverTheMeasuredRuns) {
  StagePeakEngine engine;
  BenchOptions options;
  options.warmup = 1;
  options.runs = 3;
  options.texts = {"ultra_short"};
  const BenchReport report = run_bench(engine, options, BenchReport{}, {});
  ASSERT_EQ(report.results.size(), 1u);
  const std::vector<StageResult>& stages = report.results[0].stages;
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(stages[0].name, "grow");
  EXPECT_EQ(stages[0].peak_rss_kib, 3 * 1024);  // runs 1..3; the warm-up's 100 MiB is not counted
  EXPECT_EQ(stages[1].peak_rss_kib, 0);
}

TEST(ConcurrencyBench, RunsEveryLevelAndAccountsForEveryRequest) {
  const std::unique_ptr<TtsEngine> engine = create_engine({});  // espeak: fast, real audio
  ConcurrencyOptions options;
  options.levels = {1, 3};
  options.requests_per_stream = 2;
  options.text = "ultra_short";
  const auto results = run_concurrency_bench(*engine, options);
  ASSERT_EQ(results.size(), 2u);
  for (const ConcurrencyLevelResult& r : results) {
    SCOPED_TRACE(r.streams);
    EXPECT_EQ(r.requests, r.streams * 2);
    EXPECT_EQ(r.errors, 0) << r.first_error;
    EXPECT_EQ(r.ttfc_ms.n, r.requests);
    EXPECT_EQ(r.rtf.n, r.requests);
    EXPECT_GT(r.audio_s, 0.1 * r.requests);
    EXPECT_NEAR(r.audio_s_per_s, r.audio_s / r.wall_s, 1e-9);
    EXPECT_NEAR(r.tokens_per_s, 25.0 * r.audio_s_per_s, 1e-9);
    EXPECT_TRUE(r.batching);
  }
  // Every request speaks the same text: about the same audio per request at every level (espeak's
  // streamed length varies by a few resampler samples).
  EXPECT_NEAR(results[0].audio_s / results[0].requests, results[1].audio_s / results[1].requests,
              0.01 * results[0].audio_s / results[0].requests);
  const std::string table = format_concurrency_table(results);
  EXPECT_NE(table.find("| 3 | on | 6 |"), std::string::npos) << table;
  EXPECT_EQ(concurrency_results_json(results).size(), 2u);
}

TEST(ConcurrencyBench, BadOptionsNameTheProblem) {
  const std::unique_ptr<TtsEngine> engine = create_engine({});
  ConcurrencyOptions options;
  options.levels = {0};
  EXPECT_THROW(run_concurrency_bench(*engine, options), InvalidArgument);
  options.levels = {1};
  options.requests_per_stream = 0;
  EXPECT_THROW(options.validate(), InvalidArgument);
  options.requests_per_stream = 1;
  options.text = "epic";
  EXPECT_THROW(options.validate(), InvalidArgument);
  options.text = "short";
  options.speech_tokens = 0;
  EXPECT_THROW(options.validate(), InvalidArgument);
}

}  // namespace
}  // namespace chatterd::bench
