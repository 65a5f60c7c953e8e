#include "pipeline/bench_stats.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace chatterd::bench {

double percentile_sorted(std::span<const double> sorted, double p) {
  CHATTERD_CHECK(!sorted.empty(), InvalidArgument, "percentile of no samples");
  CHATTERD_CHECK(p >= 0.0 && p <= 100.0, InvalidArgument, "percentile {} is outside [0, 100]", p);
  const double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = rank - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

SampleSummary summarize(std::span<const double> values) {
  CHATTERD_CHECK(!values.empty(), InvalidArgument, "summary of no samples");
  std::vector<double> sorted(values.begin(), values.end());
  for (const double v : sorted) {
    CHATTERD_CHECK(std::isfinite(v), InvalidArgument, "sample {} is not finite", v);
  }
  std::sort(sorted.begin(), sorted.end());
  SampleSummary s;
  s.n = static_cast<std::int64_t>(sorted.size());
  double sum = 0.0;
  for (const double v : sorted) sum += v;
  s.mean = sum / static_cast<double>(s.n);
  if (s.n > 1) {
    double sq = 0.0;
    for (const double v : sorted) sq += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(sq / static_cast<double>(s.n - 1));
  }
  s.p50 = percentile_sorted(sorted, 50.0);
  s.p95 = percentile_sorted(sorted, 95.0);
  s.p99 = percentile_sorted(sorted, 99.0);
  s.min = sorted.front();
  s.max = sorted.back();
  return s;
}

}  // namespace chatterd::bench
