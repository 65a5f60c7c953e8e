#pragma once
// The per-request random generator: xoshiro256** seeded through SplitMix64. Written here because
// the standard <random> distributions are not specified bit-for-bit across standard libraries,
// and a request with a seed must give the same audio on any machine.

#include <array>
#include <cstdint>

namespace chatterd {

class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next_u64();
  // Uniform in [0, 1) with 24 bits of resolution (a float's mantissa).
  float next_unit_float();
  // Standard normal (Box-Muller on two 53-bit uniforms; the second value is cached).
  float next_normal();
  void fill_normal(float* out, std::int64_t n);

 private:
  std::array<std::uint64_t, 4> s_{};
  bool has_spare_ = false;
  float spare_ = 0.0f;
};

}  // namespace chatterd
