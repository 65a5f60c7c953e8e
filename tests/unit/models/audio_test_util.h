#pragma once
// Test signals shared by the audio DSP and feature tests.

#include <cmath>
#include <cstddef>
#include <numbers>
#include <vector>

namespace chatterd::test {

// `n` samples of a sine at `freq` Hz sampled at `sr` Hz, peak `amp`.
inline std::vector<float> sine(double freq, int sr, std::size_t n, double amp = 0.5) {
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(
        amp * std::sin(2.0 * std::numbers::pi * freq * static_cast<double>(i) / sr));
  }
  return x;
}

}  // namespace chatterd::test
