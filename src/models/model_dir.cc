#include "models/model_dir.h"

#include <fmt/format.h>

#include <system_error>

#include "core/check.h"

namespace chatterd {

std::string_view model_component_name(ModelComponent component) {
  switch (component) {
    case ModelComponent::T3:
      return "t3";
    case ModelComponent::S3Gen:
      return "s3gen";
    case ModelComponent::VoiceEncoder:
      return "voice_encoder";
    case ModelComponent::Conditionals:
      return "conds";
    case ModelComponent::Tokenizer:
      return "tokenizer";
    case ModelComponent::Hparams:
      return "hparams";
  }
  return "?";
}

std::string ModelFileEntry::display_name() const {
  if (candidates.empty()) return {};
  std::string s = candidates.front();
  for (std::size_t i = 1; i < candidates.size(); ++i) {
    s += (i == 1 ? " (or " : ", ") + candidates[i];
  }
  if (candidates.size() > 1) s += ")";
  return s;
}

std::vector<ModelFileEntry> expected_model_files(Variant variant) {
  std::vector<ModelFileEntry> f;
  auto add = [&](ModelComponent c, std::vector<std::string> names, bool required) {
    f.push_back(ModelFileEntry{c, std::move(names), required, {}});
  };
  add(ModelComponent::T3, {std::string(t3_file_name(variant))}, true);
  if (is_turbo_family(variant)) {
    add(ModelComponent::S3Gen, {"s3gen_meanflow.safetensors"}, true);
  } else if (variant == Variant::English) {
    add(ModelComponent::S3Gen, {"s3gen.safetensors"}, true);
  } else {
    add(ModelComponent::S3Gen, {"s3gen.pt"}, true);
  }
  // The reference reads ve.pt for multilingual and ve.safetensors otherwise; the weights are the
  // same module, so either file serves.
  if (is_multilingual(variant)) {
    add(ModelComponent::VoiceEncoder, {"ve.pt", "ve.safetensors"}, true);
  } else {
    add(ModelComponent::VoiceEncoder, {"ve.safetensors", "ve.pt"}, true);
  }
  if (is_turbo_family(variant)) {
    add(ModelComponent::Tokenizer, {"vocab.json"}, true);
    add(ModelComponent::Tokenizer, {"merges.txt"}, true);
    add(ModelComponent::Tokenizer, {"added_tokens.json"}, true);
  } else if (variant == Variant::English) {
    add(ModelComponent::Tokenizer, {"tokenizer.json"}, true);
  } else {
    add(ModelComponent::Tokenizer, {"grapheme_mtl_merged_expanded_v1.json"}, true);
  }
  add(ModelComponent::Conditionals, {"conds.pt"}, false);
  add(ModelComponent::Hparams, {"hparams.json"}, false);
  return f;
}

ModelDir ModelDir::scan(const std::filesystem::path& dir, Variant variant) {
  std::error_code ec;
  const bool is_dir = std::filesystem::is_directory(dir, ec);
  CHATTERD_CHECK(!ec && is_dir, IoError, "{}: not a readable model directory", dir.string());
  ModelDir m;
  m.dir_ = dir;
  m.variant_ = variant;
  m.files_ = expected_model_files(variant);
  for (auto& entry : m.files_) {
    for (const auto& name : entry.candidates) {
      if (std::filesystem::is_regular_file(dir / name, ec)) {
        entry.path = dir / name;
        break;
      }
    }
  }
  return m;
}

ModelDir ModelDir::open(const std::filesystem::path& dir, Variant multilingual_preference) {
  return scan(dir, detect_variant(dir, multilingual_preference));
}

std::optional<std::filesystem::path> ModelDir::find(ModelComponent component) const {
  for (const auto& e : files_) {
    if (e.component == component && e.present()) return e.path;
  }
  return std::nullopt;
}

std::vector<std::string> ModelDir::missing_required() const {
  std::vector<std::string> missing;
  for (const auto& e : files_) {
    if (e.required && !e.present()) missing.push_back(e.display_name());
  }
  return missing;
}

std::string ModelDir::to_string() const {
  std::string s = fmt::format("{} ({})\n", dir_.string(), variant_name(variant_));
  for (const auto& e : files_) {
    const char* status = e.present() ? "ok" : (e.required ? "missing" : "absent, optional");
    s += fmt::format("  [{}] {} {}\n", status, model_component_name(e.component),
                     e.present() ? e.path.filename().string() : e.display_name());
  }
  return s;
}

}  // namespace chatterd
