#include "audio/signal_checks.h"

#include <cmath>

#include "core/check.h"

namespace chatterd::audio {

void check_finite(std::span<const float> signal, const char* what) {
  for (std::size_t i = 0; i < signal.size(); ++i) {
    CHATTERD_CHECK(std::isfinite(signal[i]), InvalidArgument, "{}: sample {} is not finite ({})",
                   what, i, signal[i]);
  }
}

void check_min_length(std::span<const float> signal, std::size_t min_samples, int sample_rate,
                      const char* what) {
  CHATTERD_CHECK(signal.size() >= min_samples, InvalidArgument,
                 "{}: needs at least {} samples ({:.4f} s at {} Hz), got {}", what, min_samples,
                 static_cast<double>(min_samples) / sample_rate, sample_rate, signal.size());
}

}  // namespace chatterd::audio
