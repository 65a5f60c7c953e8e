#include "models/inspect.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>

#include "chatterd/core/error.h"
#include "models/model_hparams.h"
#include "models/t3/t3_config.h"
#include "models/voice/voice_encoder_config.h"
#include "text/gpt2_tokenizer.h"

namespace chatterd {
namespace {

std::vector<TensorSpec> expected_specs(ModelComponent component, const ModelHparams& hp) {
  switch (component) {
    case ModelComponent::T3:
      return t3_tensor_specs(hp.t3);
    case ModelComponent::S3Gen:
      return s3gen_file_tensor_specs(hp);
    case ModelComponent::VoiceEncoder:
      return voice_encoder_tensor_specs(hp.ve);
    default:
      return {};  // conds.pt shapes are data (prompt length), not architecture
  }
}

void inspect_tensor_file(InspectedFile& f, const ModelHparams* hp) {
  const std::unique_ptr<TensorFile> file = open_tensor_file(f.path);
  f.format = f.path.extension() == ".pt" ? "torch .pt" : "safetensors";
  f.tensors = file->tensors();
  f.params = count_params(f.tensors);
  if (hp == nullptr) return;
  const std::vector<TensorSpec> specs = expected_specs(f.component, *hp);
  if (!specs.empty()) f.findings = compare_tensors(f.path.filename().string(), specs, f.tensors);
}

void inspect_tokenizer(InspectedFile& f, const ModelDir& dir, const ModelHparams* hp) {
  f.format = "tokenizer";
  if (!is_turbo_family(dir.variant())) return;  // only the GPT-2 tokenizer is ported so far
  const auto tok = text::Gpt2Tokenizer::from_dir(dir.dir());
  f.summary = fmt::format("{} tokens", tok.size());
  if (hp != nullptr)
    tok.check_size(static_cast<std::size_t>(hp->t3.text_vocab_size), f.path.filename().string());
}

}  // namespace

InspectReport inspect_model_dir(const std::filesystem::path& path) {
  const ModelDir dir = ModelDir::open(path);
  InspectReport r;
  r.dir = dir.dir();
  r.variant = dir.variant();
  r.missing_files = dir.missing_required();

  ModelHparams hp;
  bool have_hp = false;
  const auto hparams_path = dir.find(ModelComponent::Hparams);
  r.hparams_source = hparams_path ? hparams_path->string() : "built-in defaults";
  try {
    hp = load_hparams(dir.dir(), dir.variant());
    have_hp = true;
  } catch (const Error& e) {
    r.errors.push_back(e.what());
  }

  bool tokenizer_done = false;  // one tokenizer spans several files: load it once
  for (const ModelFileEntry& entry : dir.files()) {
    if (!entry.present() || entry.component == ModelComponent::Hparams) continue;
    if (entry.component == ModelComponent::Tokenizer && tokenizer_done) continue;
    InspectedFile f;
    f.component = entry.component;
    f.path = entry.path;
    try {
      if (entry.component == ModelComponent::Tokenizer) {
        tokenizer_done = true;
        inspect_tokenizer(f, dir, have_hp ? &hp : nullptr);
      } else {
        inspect_tensor_file(f, have_hp ? &hp : nullptr);
      }
    } catch (const Error& e) {
      f.error = e.what();
      r.errors.push_back(f.error);
    }
    for (const TensorFinding& finding : f.findings) {
      if (finding_severity(finding.kind) == FindingSeverity::Error) {
        r.errors.push_back(finding.message);
      }
    }
    r.files.push_back(std::move(f));
  }
  return r;
}

std::string InspectReport::to_string(bool list_tensors) const {
  std::string out = fmt::format("model directory: {}\nvariant: {}\nhyper-parameters: {}\n",
                                dir.string(), variant_name(variant), hparams_source);
  if (!missing_files.empty()) {
    out += fmt::format("incomplete: missing {} (cannot synthesise without them)\n",
                       fmt::join(missing_files, ", "));
  }
  for (const InspectedFile& f : files) {
    out += fmt::format("\n== {} [{}] {}\n", f.path.filename().string(),
                       model_component_name(f.component), f.format);
    if (!f.error.empty()) {
      out += fmt::format("  ERROR: {}\n", f.error);
      continue;
    }
    if (!f.summary.empty()) out += fmt::format("  {}\n", f.summary);
    if (!f.tensors.empty()) {
      std::map<std::string, int> by_dtype;
      for (const TensorInfo& t : f.tensors) by_dtype[std::string(dtype_name(t.dtype))]++;
      std::string dtypes;
      for (const auto& [name, n] : by_dtype) dtypes += fmt::format(" {}:{}", name, n);
      out += fmt::format("  {} tensors, {} parameters (dtypes{})\n", f.tensors.size(), f.params,
                         dtypes);
      if (list_tensors) {
        for (const TensorInfo& t : f.tensors) {
          out +=
              fmt::format("  {:<64} {:<5} {}\n", t.name, dtype_name(t.dtype), t.shape.to_string());
        }
      }
    }
    for (const TensorFinding& finding : f.findings) {
      const FindingSeverity s = finding_severity(finding.kind);
      out += fmt::format("  {}: {}\n",
                         s == FindingSeverity::Error     ? "ERROR"
                         : s == FindingSeverity::Warning ? "warning"
                                                         : "note",
                         finding.message);
    }
  }
  out += errors.empty() ? "\nOK: every file opened and matches the variant\n"
                        : fmt::format("\nFAILED: {} error(s)\n", errors.size());
  return out;
}

}  // namespace chatterd
