#include "pipeline/bench_compare.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/check.h"

namespace chatterd::bench {
namespace {

const TextResult* find_text(const BenchReport& r, const std::string& name) {
  for (const TextResult& t : r.results) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// The text of that name; the caller checked that it exists.
const TextResult& text_named(const BenchReport& r, const std::string& name) {
  const TextResult* t = find_text(r, name);
  CHATTERD_CHECK(t != nullptr, Internal, "bench compare: no text '{}'", name);
  return *t;
}

std::string names(const BenchReport& r) {
  std::string out;
  for (const TextResult& t : r.results) out += (out.empty() ? "" : ", ") + t.name;
  return out;
}

void check_same_workload(const BenchReport& a, const BenchReport& b) {
  bool same_set = a.results.size() == b.results.size();
  for (const TextResult& t : a.results) same_set = same_set && find_text(b, t.name) != nullptr;
  CHATTERD_CHECK(same_set, InvalidArgument,
                 "bench compare: the files ran different texts (before: {}; after: {}); run both "
                 "with the same --texts",
                 names(a), names(b));
  for (const TextResult& t : a.results) {
    const TextResult& u = text_named(b, t.name);
    CHATTERD_CHECK(t.text == u.text && t.words == u.words, InvalidArgument,
                   "bench compare: text '{}' differs between the files (\"{}\" vs \"{}\")", t.name,
                   t.text, u.text);
    CHATTERD_CHECK(t.forced_speech_tokens == u.forced_speech_tokens, InvalidArgument,
                   "bench compare: text '{}' generated a forced token count in one file and not "
                   "the same in the other ({} vs {}): different workloads",
                   t.name,
                   t.forced_speech_tokens ? std::to_string(*t.forced_speech_tokens) : "none",
                   u.forced_speech_tokens ? std::to_string(*u.forced_speech_tokens) : "none");
  }
}

void add_row(Comparison& c, const std::string& text, const std::string& metric, double before,
             double after, std::optional<double> target) {
  CompareRow r;
  r.text = text;
  r.metric = metric;
  r.before = before;
  r.after = after;
  if (before != 0.0) r.change_pct = (after - before) / before * 100.0;
  r.target = target;
  if (target) {
    r.before_pass = before < *target;
    r.after_pass = after < *target;
  }
  c.rows.push_back(std::move(r));
}

std::optional<double> target_of(std::string_view metric) {
  for (const DesignTarget& t : design_targets()) {
    if (t.metric == metric) return t.limit;
  }
  return std::nullopt;
}

void note_if_differs(Comparison& c, const std::string& what, const std::string& a,
                     const std::string& b) {
  if (a != b) c.notes.push_back(fmt::format("{}: {} -> {}", what, a, b));
}

}  // namespace

Comparison compare_bench_reports(const BenchReport& before, const BenchReport& after) {
  check_same_workload(before, after);
  Comparison c;
  const BenchConfiguration& x = before.configuration;
  const BenchConfiguration& y = after.configuration;
  note_if_differs(c, "model", x.model, y.model);
  note_if_differs(c, "engine", x.engine, y.engine);
  note_if_differs(c, "dtype", x.dtype, y.dtype);
  note_if_differs(c, "threads", std::to_string(x.threads), std::to_string(y.threads));
  note_if_differs(c, "cpu", x.device.cpu_model, y.device.cpu_model);
  note_if_differs(c, "isa", x.device.isa, y.device.isa);
  note_if_differs(c, "version", x.chatterd_version, y.chatterd_version);
  note_if_differs(c, "runs", std::to_string(before.metadata.runs),
                  std::to_string(after.metadata.runs));

  for (const TextResult& a : before.results) {
    const TextResult& b = text_named(after, a.name);
    add_row(c, a.name, "latency_ms.mean", a.latency_ms.mean, b.latency_ms.mean, std::nullopt);
    add_row(c, a.name, "latency_ms.p50", a.latency_ms.p50, b.latency_ms.p50,
            target_of("latency_p50_ms"));
    add_row(c, a.name, "latency_ms.p95", a.latency_ms.p95, b.latency_ms.p95,
            target_of("latency_p95_ms"));
    add_row(c, a.name, "latency_ms.p99", a.latency_ms.p99, b.latency_ms.p99,
            target_of("latency_p99_ms"));
    add_row(c, a.name, "ttfc_ms.p50", a.ttfc_ms.p50, b.ttfc_ms.p50, target_of("ttfc_p50_ms"));
    add_row(c, a.name, "ttfc_ms.p95", a.ttfc_ms.p95, b.ttfc_ms.p95, std::nullopt);
    add_row(c, a.name, "rtf.mean", a.rtf.mean, b.rtf.mean, target_of("rtf_mean"));
    add_row(c, a.name, "cpu_ms.mean", a.cpu_ms.mean, b.cpu_ms.mean, std::nullopt);
    add_row(c, a.name, "peak_rss_mib", static_cast<double>(a.peak_rss_kib) / 1024.0,
            static_cast<double>(b.peak_rss_kib) / 1024.0, std::nullopt);
  }
  const BenchSummary& s = before.summary;
  const BenchSummary& t = after.summary;
  add_row(c, "summary", "rtf_mean", s.rtf_mean, t.rtf_mean, target_of("rtf_mean"));
  add_row(c, "summary", "ttfc_p50_ms_max", s.ttfc_p50_ms_max, t.ttfc_p50_ms_max,
          target_of("ttfc_p50_ms"));
  add_row(c, "summary", "latency_p95_ms_max", s.latency_p95_ms_max, t.latency_p95_ms_max,
          target_of("latency_p95_ms"));
  add_row(c, "summary", "peak_rss_mib", static_cast<double>(s.peak_rss_kib) / 1024.0,
          static_cast<double>(t.peak_rss_kib) / 1024.0, std::nullopt);
  return c;
}

std::string format_comparison(const Comparison& c) {
  std::string out;
  for (const std::string& n : c.notes) out += "note: " + n + "\n";
  out += fmt::format("{:<18} {:<20} {:>12} {:>12} {:>9} {:>8}  {}\n", "text", "metric", "before",
                     "after", "change", "target", "pass/miss");
  const auto verdict = [](bool pass) { return pass ? "pass" : "miss"; };
  for (const CompareRow& r : c.rows) {
    const std::string change = r.change_pct ? fmt::format("{:+.1f}%", *r.change_pct) : "n/a";
    const std::string target = r.target ? fmt::format("<{:g}", *r.target) : "";
    const std::string pass =
        r.target ? fmt::format("{} -> {}", verdict(r.before_pass), verdict(r.after_pass)) : "";
    out += fmt::format("{:<18} {:<20} {:>12.3f} {:>12.3f} {:>9} {:>8}  {}\n", r.text, r.metric,
                       r.before, r.after, change, target, pass);
  }
  return out;
}

}  // namespace chatterd::bench
