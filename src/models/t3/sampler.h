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
  // The inverse-CDF draw for a given uniform u in [0, 1) (what sample() does with its RNG's
  // next value); `probs` is scratch. Other backends are checked against it.
  static std::int64_t draw(std::span<const float> processed_logits, float u,
                           std::vector<float>& probs);
  // The uniform sample() would draw with next (advancing the RNG), for a backend that draws
  // elsewhere with the CPU rule (the CUDA sampler).
  float next_uniform() { return rng_.next_unit_float(); }
  // Index of the largest score (first on ties); -1 when every score is -inf.
  static std::int64_t argmax(std::span<const float> processed_logits);

 private:
  Rng rng_;
  std::vector<float> probs_;
};

}  // namespace chatterd::t3
