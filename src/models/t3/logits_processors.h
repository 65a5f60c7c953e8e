#pragma once
// T3 logits processing, matching the Hugging Face processors the reference instantiates
// (transformers.generation.logits_process): temperature, top-k, top-p, min-p, repetition penalty.
// Filtered entries become -inf. Functions work in place on one row of logits.

#include <cstdint>
#include <span>
#include <vector>

namespace chatterd::t3 {

// Which chain the reference runs (t3.py): Turbo/Nano = temperature -> top-k -> top-p -> repetition
// penalty (the penalty last, on already-filtered scores); English/Multilingual = repetition
// penalty -> temperature -> min-p -> top-p.
enum class ProcessorChain { Turbo, English };

struct SamplingOptions {
  float temperature = 0.8f;         // divides logits; 1 (or <= 0 for Turbo) disables
  int top_k = 1000;                 // keep scores >= the k-th largest (ties kept); 0 disables
  float top_p = 0.95f;              // nucleus mass to keep; 1 keeps all but zero-mass tails
  float min_p = 0.05f;              // English chain: drop p < min_p * p_max; 0 disables
  float repetition_penalty = 1.2f;  // 1 disables
  bool greedy = false;              // argmax of the processed scores instead of sampling
  std::uint64_t seed = 0;           // per-request RNG seed (same seed, same tokens)

  // Throws InvalidArgument listing every out-of-range field.
  void validate() const;
};

void apply_temperature(std::span<float> logits, float temperature);
void apply_top_k(std::span<float> logits, int top_k);
void apply_top_p(std::span<float> logits, float top_p);
void apply_min_p(std::span<float> logits, float min_p);
// For each distinct id in `history`: s < 0 ? s * penalty : s / penalty (applied once per id).
void apply_repetition_penalty(std::span<float> logits, std::span<const std::int64_t> history,
                              float penalty);

// Runs the whole chain as the reference does for `chain`. `history` is what the reference passes
// as input_ids at this step (see the T3 decoder for what that is per variant).
void process_logits(std::span<float> logits, std::span<const std::int64_t> history,
                    const SamplingOptions& options, ProcessorChain chain);

// Softmax of processed scores into `probs` (-inf -> 0). Returns false if every score is -inf.
bool softmax_probs(std::span<const float> logits, std::vector<float>& probs);

}  // namespace chatterd::t3
