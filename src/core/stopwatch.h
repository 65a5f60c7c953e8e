#pragma once
// Milliseconds on the steady clock: the one conversion every stage timer, batcher and metric uses.

#include <chrono>

namespace chatterd {

using SteadyClock = std::chrono::steady_clock;

inline double ms_between(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

inline double ms_since(SteadyClock::time_point start) {
  return ms_between(start, SteadyClock::now());
}

}  // namespace chatterd
