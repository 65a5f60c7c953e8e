#pragma once
// Comparing espeak utterances.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace chatterd::testing_support {

// espeak-ng's output is not bit-reproducible from call to call (its pitch flutter state runs on,
// see espeak_engine.h), so "the same audio" means the same speech: lengths within 2 % and the
// 20 ms RMS envelopes within kEnvelopeTolerance (mean absolute difference over mean level, allowing
// 60 ms of drift).
constexpr double kEnvelopeTolerance = 0.1;

inline std::vector<double> envelope(const std::vector<float>& x) {
  constexpr std::size_t kFrame = 480;
  std::vector<double> env;
  for (std::size_t i = 0; i + kFrame <= x.size(); i += kFrame) {
    double sum = 0.0;
    for (std::size_t j = i; j < i + kFrame; ++j) sum += static_cast<double>(x[j]) * x[j];
    env.push_back(std::sqrt(sum / kFrame));
  }
  return env;
}

// Timing drifts a little along an utterance, so each frame of `a` is matched against the closest
// of `b`'s frames within +-kMaxShift (60 ms).
inline double envelope_distance(const std::vector<float>& a, const std::vector<float>& b) {
  constexpr std::ptrdiff_t kMaxShift = 3;
  const std::vector<double> ea = envelope(a);
  const std::vector<double> eb = envelope(b);
  const auto nb = static_cast<std::ptrdiff_t>(eb.size());
  double diff = 0.0;
  double level = 0.0;
  for (std::size_t i = 0; i < ea.size(); ++i) {
    double best = ea[i];
    for (std::ptrdiff_t s = -kMaxShift; s <= kMaxShift; ++s) {
      const std::ptrdiff_t j = static_cast<std::ptrdiff_t>(i) + s;
      if (j >= 0 && j < nb)
        best = std::min(best, std::fabs(ea[i] - eb[static_cast<std::size_t>(j)]));
    }
    diff += best;
    level += ea[i];
  }
  return level > 0.0 ? diff / level : 1.0;
}

inline ::testing::AssertionResult same_speech(const std::vector<float>& a,
                                              const std::vector<float>& b) {
  const double la = static_cast<double>(a.size());
  const double lb = static_cast<double>(b.size());
  const double d = envelope_distance(a, b);
  if (std::fabs(la - lb) <= 0.02 * std::max(la, lb) && d <= kEnvelopeTolerance) {
    return ::testing::AssertionSuccess()
           << "lengths " << a.size() << " / " << b.size() << ", envelope distance " << d;
  }
  return ::testing::AssertionFailure()
         << "lengths " << a.size() << " / " << b.size() << ", envelope distance " << d;
}

}  // namespace chatterd::testing_support
