#include "models/t3/sampler.h"

#include <limits>

#include "models/t3/logits_processors.h"

namespace chatterd::t3 {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

}  // namespace

Rng::Rng(std::uint64_t seed) {
  for (auto& word : s_) word = splitmix64(seed);
}

std::uint64_t Rng::next_u64() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

float Rng::next_unit_float() {
  return static_cast<float>(next_u64() >> 40) * (1.0f / 16777216.0f);
}

std::int64_t Sampler::sample(std::span<const float> processed_logits) {
  if (!softmax_probs(processed_logits, probs_)) return -1;
  const float u = rng_.next_unit_float();
  float cumulative = 0.0f;
  std::int64_t last_positive = -1;
  for (std::size_t i = 0; i < probs_.size(); ++i) {
    if (probs_[i] <= 0.0f) continue;
    last_positive = static_cast<std::int64_t>(i);
    cumulative += probs_[i];
    if (u < cumulative) return last_positive;
  }
  return last_positive;  // rounding left u above the total: the last live token
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
