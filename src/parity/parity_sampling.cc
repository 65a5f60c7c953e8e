// Logits-processor parity (golden/sampling_processors.safetensors): every processor alone and the
// Turbo and English chains on one fixed logits row, the vocabulary size taken from the golden.
// Case names carry their parameter ("top_p_0.95"); the chains use the reference's generate()
// defaults: Turbo temperature 0.8, top_k 1000, top_p 0.95, repetition 1.2; English repetition
// 1.2, temperature 0.8, min_p 0.05, top_p 1.0. An unknown case name fails the report.

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/check.h"
#include "models/t3/logits_processors.h"
#include "parity/parity.h"
#include "weights/safetensors.h"

namespace chatterd::parity {
namespace {

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.rfind(prefix, 0) == 0;
}

float param(const std::string& name, std::string_view prefix) {
  return std::strtof(name.c_str() + prefix.size(), nullptr);
}

}  // namespace

ParityReport run_sampling_parity(const std::filesystem::path& /*model_dir*/,
                                 const std::filesystem::path& golden,
                                 const ParityOptions& /*options*/) {
  const auto g = SafetensorsFile::open(golden);
  ParityReport report(golden.string());
  const Tensor input = g->get("input_logits");
  CHATTERD_CHECK(input.dtype() == DType::F32 && input.rank() == 2 && input.dim(0) == 1,
                 ModelFormatError, "{}: input_logits must be f32 [1, V], got {}", golden.string(),
                 input.to_string());
  const Tensor ids_t = g->get("input_ids");
  std::vector<std::int64_t> ids(static_cast<std::size_t>(ids_t.numel()));
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ids[i] =
        ids_t.dtype() == DType::I64 ? ids_t.data<std::int64_t>()[i] : ids_t.data<std::int32_t>()[i];
  }
  const float* in = input.data<float>();
  const auto v = static_cast<std::size_t>(input.dim(1));

  t3::SamplingOptions turbo;
  turbo.temperature = 0.8f;
  turbo.top_k = 1000;
  turbo.top_p = 0.95f;
  turbo.repetition_penalty = 1.2f;
  t3::SamplingOptions english;
  english.temperature = 0.8f;
  english.min_p = 0.05f;
  english.top_p = 1.0f;
  english.repetition_penalty = 1.2f;

  for (const TensorInfo& info : g->tensors()) {
    const std::string& name = info.name;
    if (name == "input_logits" || name == "input_ids") continue;
    Tensor out = Tensor::empty(input.shape(), DType::F32);
    std::span<float> row(out.data<float>(), v);
    std::copy_n(in, v, row.begin());
    if (starts_with(name, "repetition_penalty_")) {
      t3::apply_repetition_penalty(row, ids, param(name, "repetition_penalty_"));
    } else if (starts_with(name, "temperature_")) {
      t3::apply_temperature(row, param(name, "temperature_"));
    } else if (starts_with(name, "top_k_")) {
      t3::apply_top_k(row, static_cast<int>(param(name, "top_k_")));
    } else if (starts_with(name, "top_p_")) {
      t3::apply_top_p(row, param(name, "top_p_"));
    } else if (starts_with(name, "min_p_")) {
      t3::apply_min_p(row, param(name, "min_p_"));
    } else if (name == "chain_turbo") {
      t3::process_logits(row, ids, turbo, t3::ProcessorChain::Turbo);
    } else if (name == "chain_english" || name == "chain_english_probs") {
      t3::process_logits(row, ids, english, t3::ProcessorChain::English);
      if (name == "chain_english_probs") {
        std::vector<float> probs;
        t3::softmax_probs(row, probs);
        std::copy(probs.begin(), probs.end(), row.begin());
      }
    } else {
      ParityCheck c;
      c.name = name;
      c.note = "unknown sampling case (no processor for this name)";
      report.add(std::move(c));
      continue;
    }
    report.compare(name, out, g->get(name));
  }
  return report;
}

}  // namespace chatterd::parity
