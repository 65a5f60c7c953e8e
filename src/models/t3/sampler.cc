#include "models/t3/sampler.h"

#include <limits>

#include "models/t3/logits_processors.h"

namespace chatterd::t3 {
namespace {

// Inverse CDF over probabilities in index order.
std::int64_t pick(const std::vector<float>& probs, float u) {
  float cumulative = 0.0f;
  std::int64_t last_positive = -1;
  for (std::size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] <= 0.0f) continue;
    last_positive = static_cast<std::int64_t>(i);
    cumulative += probs[i];
    if (u < cumulative) return last_positive;
  }
  return last_positive;  // rounding left u above the total: the last live token
}

}  // namespace

std::int64_t Sampler::sample(std::span<const float> processed_logits) {
  // The RNG advances only when something can be drawn.
  if (!softmax_probs(processed_logits, probs_)) return -1;
  return pick(probs_, rng_.next_unit_float());
}

std::int64_t Sampler::draw(std::span<const float> processed_logits, float u,
                           std::vector<float>& probs) {
  if (!softmax_probs(processed_logits, probs)) return -1;
  return pick(probs, u);
}

std::int64_t Sampler::argmax(std::span<const float> processed_logits) {
  std::int64_t best = -1;
  float best_value = -std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < processed_logits.size(); ++i) {
    if (processed_logits[i] > best_value) {
      best_value = processed_logits[i];
      best = static_cast<std::int64_t>(i);
    }
  }
  return best;
}

}  // namespace chatterd::t3
