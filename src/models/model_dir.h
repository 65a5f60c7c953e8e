#pragma once
// What a model directory holds for its variant: one entry per component file, present or not.
// Missing files are findings, not exceptions, so that an inspect tool can list them all (the
// tiny test fixtures, for one, lack some files).

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/variant.h"

namespace chatterd {

enum class ModelComponent {
  T3,            // t3_*.safetensors
  S3Gen,         // s3gen_meanflow.safetensors / s3gen.safetensors / s3gen.pt
  VoiceEncoder,  // ve.safetensors or ve.pt
  Conditionals,  // conds.pt: the built-in voice (optional)
  Tokenizer,     // text tokenizer file(s)
  Hparams,       // hparams.json: chatterd overrides of the built-in hyper-parameters (optional)
};
std::string_view model_component_name(ModelComponent component);

struct ModelFileEntry {
  ModelComponent component = ModelComponent::T3;
  std::vector<std::string> candidates;  // accepted file names, preferred first
  bool required = true;                 // false: the pipeline works without it
  std::filesystem::path path;           // the first candidate found; empty when none is
  bool present() const { return !path.empty(); }
  // "ve.safetensors" or "ve.safetensors (or ve.pt)".
  std::string display_name() const;
};

class ModelDir {
 public:
  // Lists the files `variant` needs in `dir`. Throws IoError when `dir` is not a directory.
  static ModelDir scan(const std::filesystem::path& dir, Variant variant);
  // detect_variant() then scan().
  static ModelDir open(const std::filesystem::path& dir,
                       Variant multilingual_preference = Variant::MultilingualV2);

  const std::filesystem::path& dir() const { return dir_; }
  Variant variant() const { return variant_; }
  const std::vector<ModelFileEntry>& files() const { return files_; }

  // The path of a component's file (the first present entry of that component), if any.
  std::optional<std::filesystem::path> find(ModelComponent component) const;
  // Display names of required files that are absent, e.g. {"s3gen.pt", "tokenizer.json"}.
  std::vector<std::string> missing_required() const;
  bool complete() const { return missing_required().empty(); }
  // One line per entry: "  [ok] t3 t3_cfg.safetensors" / "  [missing] tokenizer tokenizer.json".
  std::string to_string() const;

 private:
  std::filesystem::path dir_;
  Variant variant_ = Variant::English;
  std::vector<ModelFileEntry> files_;
};

// The expected entries for `variant` (paths empty): exposed for tests and the inspect tool.
std::vector<ModelFileEntry> expected_model_files(Variant variant);

}  // namespace chatterd
