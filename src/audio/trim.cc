#include "audio/trim.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "audio/signal_checks.h"
#include "core/check.h"

namespace chatterd::audio {

TrimRange trim_silence(std::span<const float> signal, const TrimOptions& o) {
  CHATTERD_CHECK(!signal.empty(), InvalidArgument,
                 "trim_silence: empty signal (need at least 1 sample)");
  CHATTERD_CHECK(o.frame_length >= 1 && o.hop_length >= 1, InvalidArgument,
                 "trim_silence: bad frame_length {} / hop_length {}", o.frame_length, o.hop_length);
  check_finite(signal, "trim_silence");
  const auto n = static_cast<std::int64_t>(signal.size());
  const std::int64_t half = o.frame_length / 2;
  // Frames over the zero-padded signal (pad frame_length/2 each side): 1 + n / hop.
  const std::int64_t padded = n + 2 * half;
  const std::int64_t frames =
      padded >= o.frame_length ? 1 + (padded - o.frame_length) / o.hop_length : 0;
  std::vector<double> power(static_cast<std::size_t>(frames));
  double max_power = 0.0;
  for (std::int64_t f = 0; f < frames; ++f) {
    const std::int64_t lo = std::max<std::int64_t>(f * o.hop_length - half, 0);
    const std::int64_t hi = std::min<std::int64_t>(f * o.hop_length - half + o.frame_length, n);
    double acc = 0.0;
    for (std::int64_t i = lo; i < hi; ++i) {
      const double v = signal[static_cast<std::size_t>(i)];
      acc += v * v;
    }
    // rms = sqrt(mean); amplitude_to_db squares it again: compare powers with librosa's floors.
    const double p = acc / o.frame_length;
    power[static_cast<std::size_t>(f)] = p;
    max_power = std::max(max_power, p);
  }
  // power_to_db(rms^2, ref=max_rms^2, amin=1e-10) > -top_db.
  const double ref_db = 10.0 * std::log10(std::max(1e-10, max_power));
  std::int64_t first = -1;
  std::int64_t last = -1;
  for (std::int64_t f = 0; f < frames; ++f) {
    const double db =
        10.0 * std::log10(std::max(1e-10, power[static_cast<std::size_t>(f)])) - ref_db;
    if (db > -o.top_db) {
      if (first < 0) first = f;
      last = f;
    }
  }
  if (first < 0) return {0, 0};  // unreachable for finite input: the loudest frame passes
  return {first * o.hop_length, std::min(n, (last + 1) * o.hop_length)};
}

}  // namespace chatterd::audio
