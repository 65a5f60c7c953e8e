#include "pipeline/bench_report.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>

#include "core/check.h"
#include "pipeline/bench_json.h"

namespace chatterd::bench {
namespace {

using nlohmann::json;

json device_to_json(const MachineInfo& m) {
  return {{"type", "cpu"},
          {"cpu_model", m.cpu_model},
          {"logical_cores", m.logical_cores},
          {"memory_total_kib", m.memory_total_kib},
          {"isa", m.isa},
          {"isas_supported", m.isas_supported},
          {"os", m.os}};
}

MachineInfo device_from_json(const JsonObject& o) {
  MachineInfo m;
  m.cpu_model = o.string("cpu_model");
  m.logical_cores = static_cast<int>(o.integer("logical_cores"));
  m.memory_total_kib = o.integer("memory_total_kib");
  m.isa = o.string("isa");
  m.isas_supported = o.strings("isas_supported");
  m.os = o.string("os");
  return m;
}

json text_to_json(const TextResult& r) {
  json stages = json::array();
  for (const StageResult& s : r.stages) {
    stages.push_back({{"name", s.name},
                      {"mean_ms", s.mean_ms},
                      {"share", s.share},
                      {"peak_rss_kib", s.peak_rss_kib}});
  }
  return {{"name", r.name},
          {"text", r.text},
          {"words", r.words},
          {"forced_speech_tokens",
           r.forced_speech_tokens ? json(*r.forced_speech_tokens) : json(nullptr)},
          {"speech_tokens", r.speech_tokens},
          {"chunks", r.chunks},
          {"audio_ms", r.audio_ms},
          {"latency_ms", summary_to_json(r.latency_ms)},
          {"ttfc_ms", summary_to_json(r.ttfc_ms)},
          {"rtf", summary_to_json(r.rtf)},
          {"cpu_ms", summary_to_json(r.cpu_ms)},
          {"memory",
           {{"peak_rss_kib", r.peak_rss_kib},
            {"peak_rss_per_text", r.peak_rss_per_text},
            {"rss_kib", r.rss_kib}}},
          {"stages", stages},
          {"device", r.device ? json{{"t3_ms", r.device->t3_ms},
                                     {"flow_ms", r.device->flow_ms},
                                     {"hift_ms", r.device->hift_ms},
                                     {"t3_steps", r.device->t3_steps},
                                     {"peak_bytes", r.device->peak_bytes}}
                              : json(nullptr)},
          {"samples", {{"latency_ms", r.latency_samples_ms}, {"ttfc_ms", r.ttfc_samples_ms}}}};
}

TextResult text_from_json(const JsonObject& o) {
  TextResult r;
  r.name = o.string("name");
  r.text = o.string("text");
  r.words = o.integer("words");
  if (o.has("forced_speech_tokens")) r.forced_speech_tokens = o.integer("forced_speech_tokens");
  r.speech_tokens = o.integer("speech_tokens");
  r.chunks = o.integer("chunks");
  r.audio_ms = o.number("audio_ms");
  r.latency_ms = summary_from_json(o.object("latency_ms"));
  r.ttfc_ms = summary_from_json(o.object("ttfc_ms"));
  r.rtf = summary_from_json(o.object("rtf"));
  r.cpu_ms = summary_from_json(o.object("cpu_ms"));
  const JsonObject mem = o.object("memory");
  r.peak_rss_kib = mem.integer("peak_rss_kib");
  r.rss_kib = mem.integer("rss_kib");
  r.peak_rss_per_text = mem.boolean("peak_rss_per_text");
  const std::size_t n_stages = o.array("stages").size();
  for (std::size_t i = 0; i < n_stages; ++i) {
    const JsonObject s = o.element("stages", i);
    // peak_rss_kib is absent from reports written before stages measured memory.
    r.stages.push_back({s.string("name"), s.number("mean_ms"), s.number("share"),
                        s.has("peak_rss_kib") ? s.integer("peak_rss_kib") : 0});
  }
  if (o.has("device")) {  // absent or null: a CPU run, or a report from before it existed
    const JsonObject d = o.object("device");
    r.device = DeviceResult{.t3_ms = d.number("t3_ms"),
                            .flow_ms = d.number("flow_ms"),
                            .hift_ms = d.number("hift_ms"),
                            .t3_steps = d.number("t3_steps"),
                            .peak_bytes = d.integer("peak_bytes")};
  }
  const JsonObject samples = o.object("samples");
  r.latency_samples_ms = samples.numbers("latency_ms");
  r.ttfc_samples_ms = samples.numbers("ttfc_ms");
  if (r.words < 1) o.fail("words", "must be >= 1");
  if (r.audio_ms < 0.0) o.fail("audio_ms", "must be >= 0");
  if (r.latency_samples_ms.size() != static_cast<std::size_t>(r.latency_ms.n)) {
    samples.fail("latency_ms", "sample count differs from latency_ms.n");
  }
  if (r.ttfc_samples_ms.size() != static_cast<std::size_t>(r.ttfc_ms.n)) {
    samples.fail("ttfc_ms", "sample count differs from ttfc_ms.n");
  }
  return r;
}

json summary_json(const BenchSummary& s) {
  json targets = json::array();
  for (const TargetCheck& t : s.targets) {
    targets.push_back(
        {{"metric", t.metric}, {"target", t.target}, {"value", t.value}, {"pass", t.pass}});
  }
  return {{"texts", s.texts},
          {"measured_runs", s.measured_runs},
          {"audio_ms_total", s.audio_ms_total},
          {"rtf_mean", s.rtf_mean},
          {"ttfc_p50_ms_max", s.ttfc_p50_ms_max},
          {"latency_p95_ms_max", s.latency_p95_ms_max},
          {"peak_rss_kib", s.peak_rss_kib},
          {"targets", targets}};
}

BenchSummary summary_from(const JsonObject& o) {
  BenchSummary s;
  s.texts = o.integer("texts");
  s.measured_runs = o.integer("measured_runs");
  s.audio_ms_total = o.number("audio_ms_total");
  s.rtf_mean = o.number("rtf_mean");
  s.ttfc_p50_ms_max = o.number("ttfc_p50_ms_max");
  s.latency_p95_ms_max = o.number("latency_p95_ms_max");
  s.peak_rss_kib = o.integer("peak_rss_kib");
  const std::size_t n = o.array("targets").size();
  for (std::size_t i = 0; i < n; ++i) {
    const JsonObject t = o.element("targets", i);
    s.targets.push_back(
        {t.string("metric"), t.number("target"), t.number("value"), t.boolean("pass")});
  }
  return s;
}

}  // namespace

std::vector<DesignTarget> design_targets() {
  return {{"ttfc_p50_ms", 400.0},
          {"rtf_mean", 0.5},
          {"latency_p50_ms", 450.0},
          {"latency_p95_ms", 500.0},
          {"latency_p99_ms", 750.0}};
}

double target_metric_value(const TextResult& r, std::string_view metric) {
  if (metric == "ttfc_p50_ms") return r.ttfc_ms.p50;
  if (metric == "rtf_mean") return r.rtf.mean;
  if (metric == "latency_p50_ms") return r.latency_ms.p50;
  if (metric == "latency_p95_ms") return r.latency_ms.p95;
  if (metric == "latency_p99_ms") return r.latency_ms.p99;
  CHATTERD_THROW(InvalidArgument, "unknown target metric '{}'", metric);
}

void compute_summary(BenchReport& report) {
  BenchSummary s;
  s.texts = static_cast<std::int64_t>(report.results.size());
  double rtf_sum = 0.0;
  for (const TextResult& r : report.results) {
    s.measured_runs += r.latency_ms.n;
    s.audio_ms_total += r.audio_ms;
    rtf_sum += r.rtf.mean;
    s.ttfc_p50_ms_max = std::max(s.ttfc_p50_ms_max, r.ttfc_ms.p50);
    s.latency_p95_ms_max = std::max(s.latency_p95_ms_max, r.latency_ms.p95);
    s.peak_rss_kib = std::max(s.peak_rss_kib, r.peak_rss_kib);
  }
  s.rtf_mean = s.texts > 0 ? rtf_sum / static_cast<double>(s.texts) : 0.0;
  if (!report.results.empty()) {
    for (const DesignTarget& t : design_targets()) {
      double worst = 0.0;
      for (const TextResult& r : report.results) {
        worst = std::max(worst, target_metric_value(r, t.metric));
      }
      s.targets.push_back({std::string(t.metric), t.limit, worst, worst < t.limit});
    }
  }
  report.summary = std::move(s);
}

nlohmann::json to_json(const BenchReport& report) {
  const BenchMetadata& m = report.metadata;
  const BenchConfiguration& c = report.configuration;
  json results = json::array();
  for (const TextResult& r : report.results) results.push_back(text_to_json(r));
  return {{"metadata",
           {{"schema_version", m.schema_version},
            {"kind", m.kind},
            {"timestamp", m.timestamp},
            {"warmup", m.warmup},
            {"runs", m.runs},
            {"note", m.note}}},
          {"configuration",
           {{"device", device_to_json(c.device)},
            {"chatterd_version", c.chatterd_version},
            {"model", c.model},
            {"engine", c.engine},
            {"threads", c.threads},
            {"dtype", c.dtype},
            {"optimisations", c.optimisations},
            {"batch_size", c.batch_size},
            {"seed", c.seed},
            {"fixed_speech_tokens", c.fixed_speech_tokens},
            {"voice", c.voice},
            {"load_ms", c.load_ms},
            {"rss_after_load_kib", c.rss_after_load_kib}}},
          {"results", results},
          {"summary", summary_json(report.summary)}};
}

BenchReport bench_report_from_json(const nlohmann::json& j, std::string_view source) {
  const JsonObject top(j, "", std::string(source));
  BenchReport report;
  const JsonObject m = top.object("metadata");
  report.metadata.schema_version = static_cast<int>(m.integer("schema_version"));
  if (report.metadata.schema_version != kBenchSchemaVersion) {
    m.fail("schema_version", "is " + std::to_string(report.metadata.schema_version) +
                                 "; this chatterd reads version " +
                                 std::to_string(kBenchSchemaVersion));
  }
  report.metadata.kind = m.string("kind");
  if (report.metadata.kind != "bench") {
    m.fail("kind", "is '" + report.metadata.kind + "', not a `chatterd bench` result");
  }
  report.metadata.timestamp = m.string("timestamp");
  report.metadata.warmup = static_cast<int>(m.integer("warmup"));
  report.metadata.runs = static_cast<int>(m.integer("runs"));
  report.metadata.note = m.string("note");
  if (report.metadata.runs < 1) m.fail("runs", "must be >= 1");
  if (report.metadata.warmup < 0) m.fail("warmup", "must be >= 0");

  const JsonObject c = top.object("configuration");
  BenchConfiguration& cfg = report.configuration;
  cfg.device = device_from_json(c.object("device"));
  cfg.chatterd_version = c.string("chatterd_version");
  cfg.model = c.string("model");
  cfg.engine = c.string("engine");
  cfg.threads = static_cast<int>(c.integer("threads"));
  cfg.dtype = c.string("dtype");
  cfg.optimisations = c.strings("optimisations");
  cfg.batch_size = static_cast<int>(c.integer("batch_size"));
  cfg.seed = static_cast<std::uint64_t>(c.integer("seed"));
  cfg.fixed_speech_tokens = c.boolean("fixed_speech_tokens");
  cfg.voice = c.string("voice");
  cfg.load_ms = c.number("load_ms");
  cfg.rss_after_load_kib = c.integer("rss_after_load_kib");

  const std::size_t n = top.array("results").size();
  if (n == 0) top.fail("results", "empty");
  for (std::size_t i = 0; i < n; ++i) {
    TextResult r = text_from_json(top.element("results", i));
    for (const TextResult& prev : report.results) {
      if (prev.name == r.name) top.fail("results", "text '" + r.name + "' appears twice");
    }
    if (r.latency_ms.n != report.metadata.runs) {
      top.element("results", i).fail("latency_ms.n", "differs from metadata.runs");
    }
    report.results.push_back(std::move(r));
  }
  report.summary = summary_from(top.object("summary"));
  return report;
}

BenchReport load_bench_report(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  CHATTERD_CHECK(in.good(), IoError, "cannot read '{}'", path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return bench_report_from_json(parse_json_text(text.str(), path.string()), path.string());
}

std::string utc_timestamp_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::filesystem::path results_stem(const std::filesystem::path& dir, std::string_view kind,
                                   std::string_view timestamp) {
  // "2026-11-23T20:40:00Z" -> "20261123_204000"
  std::string stamp;
  for (const char ch : timestamp) {
    if (ch >= '0' && ch <= '9') stamp += ch;
    if (ch == 'T') stamp += '_';
  }
  CHATTERD_CHECK(stamp.size() == 15, InvalidArgument,
                 "timestamp '{}' is not ISO 8601 (YYYY-mm-ddTHH:MM:SSZ)", timestamp);
  return dir / (std::string(kind) + "_" + stamp);
}

void write_text_file(const std::filesystem::path& path, std::string_view text) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  CHATTERD_CHECK(out.good(), IoError, "cannot write '{}'", path.string());
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.flush();
  CHATTERD_CHECK(out.good(), IoError, "cannot write '{}'", path.string());
}

}  // namespace chatterd::bench
