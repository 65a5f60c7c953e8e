#include "models/t3/logits_processors.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <unordered_set>

#include "core/check.h"

namespace chatterd::t3 {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

}  // namespace

void SamplingOptions::validate() const {
  std::string problems;
  if (!(temperature >= 0.0f) || !std::isfinite(temperature)) {
    problems += fmt::format(" temperature={} (must be >= 0);", temperature);
  }
  if (top_k < 0) problems += fmt::format(" top_k={} (must be >= 0);", top_k);
  if (!(top_p > 0.0f && top_p <= 1.0f))
    problems += fmt::format(" top_p={} (must be in (0, 1]);", top_p);
  if (!(min_p >= 0.0f && min_p <= 1.0f))
    problems += fmt::format(" min_p={} (must be in [0, 1]);", min_p);
  if (!(repetition_penalty > 0.0f) || !std::isfinite(repetition_penalty)) {
    problems += fmt::format(" repetition_penalty={} (must be > 0);", repetition_penalty);
  }
  CHATTERD_CHECK(problems.empty(), InvalidArgument, "invalid sampling options:{}", problems);
}

void apply_temperature(std::span<float> logits, float temperature) {
  for (float& x : logits) x /= temperature;
}

void apply_top_k(std::span<float> logits, int top_k) {
  const auto n = static_cast<std::ptrdiff_t>(logits.size());
  const std::ptrdiff_t k = std::min<std::ptrdiff_t>(std::max(top_k, 1), n);
  if (k >= n) return;
  std::vector<float> copy(logits.begin(), logits.end());
  std::nth_element(copy.begin(), copy.begin() + (k - 1), copy.end(), std::greater<float>());
  const float threshold = copy[static_cast<std::size_t>(k - 1)];
  for (float& x : logits) {
    if (x < threshold) x = kNegInf;
  }
}

void apply_top_p(std::span<float> logits, float top_p) {
  // HF sorts ascending, takes the softmax's cumulative sum and drops entries whose cumulative mass
  // is <= 1 - top_p, always keeping the largest. -inf entries carry zero mass at the bottom of the
  // order, so they can be skipped: they are removed already and add nothing to the sum.
  std::vector<std::uint32_t> order;
  order.reserve(logits.size());
  float max_logit = kNegInf;
  for (std::uint32_t i = 0; i < logits.size(); ++i) {
    if (logits[i] != kNegInf) {
      order.push_back(i);
      max_logit = std::max(max_logit, logits[i]);
    }
  }
  if (order.size() <= 1) return;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return logits[a] < logits[b]; });
  float sum = 0.0f;
  for (const std::uint32_t i : order) sum += std::exp(logits[i] - max_logit);
  const float threshold = 1.0f - top_p;
  float cumulative = 0.0f;
  for (std::size_t j = 0; j + 1 < order.size(); ++j) {  // the last (largest) is always kept
    const std::uint32_t i = order[j];
    cumulative += std::exp(logits[i] - max_logit) / sum;
    if (cumulative > threshold) break;
    logits[i] = kNegInf;
  }
}

void apply_min_p(std::span<float> logits, float min_p) {
  // p_i < min_p * p_max  <=>  logit_i < logit_max + log(min_p); HF compares probabilities, so do
  // the same to round identically.
  std::vector<float> probs;
  if (!softmax_probs(logits, probs)) return;
  const float p_max = *std::max_element(probs.begin(), probs.end());
  const float cut = min_p * p_max;
  const auto top = std::max_element(logits.begin(), logits.end()) - logits.begin();
  for (std::size_t i = 0; i < logits.size(); ++i) {
    if (probs[i] < cut && static_cast<std::ptrdiff_t>(i) != top) logits[i] = kNegInf;
  }
}

void apply_repetition_penalty(std::span<float> logits, std::span<const std::int64_t> history,
                              float penalty) {
  std::unordered_set<std::int64_t> seen;
  for (const std::int64_t id : history) {
    CHATTERD_CHECK(id >= 0 && id < static_cast<std::int64_t>(logits.size()), InvalidArgument,
                   "repetition penalty: token id {} outside the vocabulary of {}", id,
                   logits.size());
    if (!seen.insert(id).second) continue;
    float& s = logits[static_cast<std::size_t>(id)];
    s = s < 0.0f ? s * penalty : s / penalty;
  }
}

void process_logits(std::span<float> logits, std::span<const std::int64_t> history,
                    const SamplingOptions& options, ProcessorChain chain) {
  switch (chain) {
    case ProcessorChain::Turbo:
      if (options.temperature > 0.0f && options.temperature != 1.0f) {
        apply_temperature(logits, options.temperature);
      }
      if (options.top_k > 0) apply_top_k(logits, options.top_k);
      if (options.top_p < 1.0f) apply_top_p(logits, options.top_p);
      if (options.repetition_penalty != 1.0f) {
        apply_repetition_penalty(logits, history, options.repetition_penalty);
      }
      return;
    case ProcessorChain::English:
      if (options.repetition_penalty != 1.0f) {
        apply_repetition_penalty(logits, history, options.repetition_penalty);
      }
      if (options.temperature != 1.0f) apply_temperature(logits, options.temperature);
      if (options.min_p > 0.0f) apply_min_p(logits, options.min_p);
      apply_top_p(logits, options.top_p);  // the reference runs it even at 1.0
      return;
  }
}

bool softmax_probs(std::span<const float> logits, std::vector<float>& probs) {
  probs.resize(logits.size());
  float max_logit = kNegInf;
  for (const float x : logits) max_logit = std::max(max_logit, x);
  if (max_logit == kNegInf) {
    std::fill(probs.begin(), probs.end(), 0.0f);
    return false;
  }
  float sum = 0.0f;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    probs[i] = std::exp(logits[i] - max_logit);
    sum += probs[i];
  }
  for (float& p : probs) p /= sum;
  return true;
}

}  // namespace chatterd::t3
