#pragma once
// `chatterd inspect`: what a model directory holds, checked against what its variant expects.
// Opening every file validates it (a truncated or corrupt file becomes an error naming the file),
// and every tensor is compared with the expected specs. Missing files are reported but do not
// make the report fail: the tiny fixtures lack some files on purpose.

#include <filesystem>
#include <string>
#include <vector>

#include "models/model_dir.h"
#include "models/tensor_spec.h"

namespace chatterd {

struct InspectedFile {
  ModelComponent component = ModelComponent::T3;
  std::filesystem::path path;
  std::string format;               // "safetensors", "torch .pt", "tokenizer", "json"
  std::vector<TensorInfo> tensors;  // in file order (empty for non-tensor files)
  std::int64_t params = 0;          // elements of all tensors
  std::vector<TensorFinding> findings;
  std::string summary;  // e.g. "50276 tokens" for a tokenizer
  std::string error;    // the file could not be read: why (names the file)
};

struct InspectReport {
  std::filesystem::path dir;
  Variant variant = Variant::Turbo;
  std::string hparams_source;  // "built-in defaults" or the hparams.json path
  std::vector<std::string> missing_files;
  std::vector<InspectedFile> files;
  std::vector<std::string> errors;  // every error, one line each (file errors, tensor errors)

  bool ok() const { return errors.empty(); }
  // Human-readable: variant, files, each file's tensors (name dtype shape), counts, findings.
  std::string to_string(bool list_tensors = true) const;
};

// Never throws for problems inside the directory (they become report errors); throws IoError
// only when `dir` is not a readable directory, and ModelFormatError when no variant can be told.
InspectReport inspect_model_dir(const std::filesystem::path& dir);

}  // namespace chatterd
