#pragma once
// Token sampling with a per-request RNG, so a request with a seed is reproducible on any machine.

#include <cstdint>
#include <span>
#include <vector>

#include "core/rng.h"

namespace chatterd::t3 {

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
