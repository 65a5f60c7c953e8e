#pragma once
// `chatterd bench compare A.json B.json`: before/after per metric, change %, pass/miss against the
// design targets (bench_report.h design_targets()).

#include <optional>
#include <string>
#include <vector>

#include "pipeline/bench_report.h"

namespace chatterd::bench {

struct CompareRow {
  std::string text;    // a text name, or "summary"
  std::string metric;  // "latency_ms.p50", "rtf.mean", ...
  double before = 0.0;
  double after = 0.0;
  std::optional<double> change_pct;  // (after - before) / before * 100; unset when before == 0
  std::optional<double> target;      // the design target (value must be below it)
  bool before_pass = false;          // meaningful only with a target
  bool after_pass = false;
};

struct Comparison {
  std::vector<CompareRow> rows;
  std::vector<std::string> notes;  // configuration differences worth knowing (model, dtype, ...)
};

// Throws InvalidArgument when the two results did not run the same workload: different text
// sets, or a text whose string, word count or forced token count differs. Differences in model,
// dtype, threads, machine or runs are allowed (that is what comparisons are for) and listed in
// notes.
Comparison compare_bench_reports(const BenchReport& before, const BenchReport& after);

// A fixed-width table: text, metric, before, after, change %, target, pass/miss (before -> after).
std::string format_comparison(const Comparison& c);

}  // namespace chatterd::bench
