#pragma once
// Token sampling with a per-request RNG, so a request with a seed is reproducible on any machine.
// The generator is xoshiro256** seeded through SplitMix64, written here because the standard
// <random> distributions are not specified bit-for-bit across standard libraries.

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace chatterd::t3 {

class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next_u64();
  // Uniform in [0, 1) with 24 bits of resolution (a float's mantissa).
  float next_unit_float();

 private:
  std::array<std::uint64_t, 4> s_{};
};

class Sampler {
 public:
  explicit Sampler(std::uint64_t seed) : rng_(seed) {}

  // Draws one index from softmax(processed_logits) by inverse CDF. Returns -1 when every score
  // is -inf (nothing can be sampled).
  std::int64_t sample(std::span<const float> processed_logits);
  // Index of the largest score (first on ties); -1 when every score is -inf.
  static std::int64_t argmax(std::span<const float> processed_logits);

 private:
  Rng rng_;
  std::vector<float> probs_;
};

}  // namespace chatterd::t3
