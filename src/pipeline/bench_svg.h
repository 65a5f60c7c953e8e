#pragma once
// Plots as standalone SVG text (no library): what `chatterd bench` and `chatterd loadtest` write
// next to their JSON, because people would rather look than read.

#include <string>
#include <vector>

namespace chatterd::bench {

struct DistributionRow {
  std::string label;  // a text name
  std::vector<double> latency_ms;
  std::vector<double> ttfc_ms;  // may be empty
};

// One panel per row, each with its own millisecond axis (texts differ by 10x): a box (p25..p75,
// median line, whiskers to min/max) and every sample as a dot, latency above TTFC.
// Throws InvalidArgument when `rows` is empty or a row has no latency samples.
std::string latency_distribution_svg(const std::string& title,
                                     const std::vector<DistributionRow>& rows);

struct ConcurrencyPoint {
  int concurrency = 0;
  double p50_ms = 0.0;
  double p95_ms = 0.0;
  double p99_ms = 0.0;
};

// TTFC percentiles (lines) against the number of concurrent streams, with the target as a dashed
// line. Throws InvalidArgument when `points` is empty.
std::string ttfc_vs_concurrency_svg(const std::string& title,
                                    const std::vector<ConcurrencyPoint>& points, double target_ms);

// Ticks 0, step, 2 step, ... covering `max_value` with step 1, 2 or 5 x 10^k (at most ~6 ticks).
std::vector<double> nice_ticks(double max_value);

// Escapes &, <, >, " for SVG text and attributes.
std::string xml_escape(const std::string& s);

}  // namespace chatterd::bench
