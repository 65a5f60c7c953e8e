#pragma once
// Summary statistics of benchmark samples (latencies, TTFC, RTF): mean, sample standard deviation,
// percentiles and extremes.

#include <cstdint>
#include <span>
#include <vector>

namespace chatterd::bench {

struct SampleSummary {
  std::int64_t n = 0;
  double mean = 0.0;
  double std = 0.0;  // sample standard deviation (n - 1 in the denominator); 0 for n < 2
  double p50 = 0.0;
  double p95 = 0.0;
  double p99 = 0.0;
  double min = 0.0;
  double max = 0.0;
};

// The p-th percentile (p in [0, 100]) of `sorted` (ascending, non-empty), interpolating linearly
// between the two closest ranks: rank = p / 100 * (n - 1), numpy's default ("linear") method.
// Throws InvalidArgument for an empty input or p outside [0, 100].
double percentile_sorted(std::span<const double> sorted, double p);

// Summary of `values` (any order). Throws InvalidArgument when empty or when a value is not
// finite: a NaN would silently poison every percentile.
SampleSummary summarize(std::span<const double> values);

}  // namespace chatterd::bench
