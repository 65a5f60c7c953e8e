#include "audio/window.h"

#include <cmath>
#include <numbers>

#include "core/check.h"

namespace chatterd::audio {

std::vector<float> torch_hann_window(int n, bool periodic) {
  CHATTERD_CHECK(n >= 1, InvalidArgument, "hann window: length must be >= 1, got {}", n);
  std::vector<float> w(static_cast<std::size_t>(n));
  if (n == 1) {
    w[0] = 1.0f;
    return w;
  }
  const int denom = periodic ? n : n - 1;
  // torch: arange(N).mul_(2pi / (N - 1)).cos_().mul_(-0.5).add_(0.5), every step in float.
  const auto step = static_cast<float>(2.0 * std::numbers::pi / static_cast<double>(denom));
  for (int i = 0; i < n; ++i) {
    const float c = std::cos(static_cast<float>(i) * step);
    w[static_cast<std::size_t>(i)] = c * -0.5f + 0.5f;
  }
  return w;
}

std::vector<double> librosa_hann_window(int n) {
  CHATTERD_CHECK(n >= 1, InvalidArgument, "hann window: length must be >= 1, got {}", n);
  std::vector<double> w(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    w[static_cast<std::size_t>(i)] =
        0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(i) / n);
  }
  return w;
}

std::vector<float> povey_window(int n) {
  std::vector<float> w = torch_hann_window(n, /*periodic=*/false);
  for (float& v : w) v = std::pow(v, 0.85f);
  return w;
}

}  // namespace chatterd::audio
