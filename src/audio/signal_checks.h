#pragma once
// Input validation shared by the front-ends: every sample finite, enough samples.

#include <cstddef>
#include <span>

namespace chatterd::audio {

// Throws InvalidArgument naming `what`, the first bad index and its value.
void check_finite(std::span<const float> signal, const char* what);
// Throws InvalidArgument "<what> needs at least <min> samples (<seconds> s at <rate> Hz), got n".
void check_min_length(std::span<const float> signal, std::size_t min_samples, int sample_rate,
                      const char* what);

}  // namespace chatterd::audio
