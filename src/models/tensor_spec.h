#pragma once
// What a checkpoint file is expected to hold, generated from a component config, and a pure
// comparison of that expectation with what a file really lists (no weights are read).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chatterd/core/shape.h"
#include "weights/tensor_file.h"

namespace chatterd {

// Whether a tensor must be in the file.
enum class TensorPresence {
  Required,        // the reference loads it strictly
  Optional,        // may be absent (the reference recomputes it), e.g. tokenizer.window
  CheckpointOnly,  // in the file but deleted after load (turbo tfmr.wte.weight): absence is fine
};

// What values a tensor holds; decides which file dtypes are acceptable.
enum class TensorKind {
  Float,    // weights and float buffers: F32, F16 or BF16 (converted at load)
  Integer,  // integer buffers such as BatchNorm num_batches_tracked: I64
};

struct TensorSpec {
  std::string name;  // state-dict name, e.g. "tfmr.h.0.ln_1.weight"
  Shape shape;       // PyTorch shape, unchanged
  TensorPresence presence = TensorPresence::Required;
  TensorKind kind = TensorKind::Float;
  bool used_at_inference = true;  // false: loaded but never read (text_head)
};

// Appends specs in order; keeps the generators short.
class TensorSpecList {
 public:
  explicit TensorSpecList(std::string prefix = {}) : prefix_(std::move(prefix)) {}
  TensorSpec& add(std::string_view name, Shape shape);
  // Marks the last added spec.
  TensorSpecList& unused();
  TensorSpecList& optional();
  TensorSpecList& checkpoint_only();
  TensorSpecList& integer();
  // Linear / Conv / LayerNorm helpers: "<name>.weight" (+ "<name>.bias").
  void linear(std::string_view name, std::int64_t out, std::int64_t in, bool bias = true);
  void layer_norm(std::string_view name, std::int64_t dim);
  void conv1d(std::string_view name, std::int64_t out, std::int64_t in, std::int64_t kernel,
              bool bias = true);
  void append(const std::vector<TensorSpec>& specs);
  std::vector<TensorSpec> take() { return std::move(specs_); }
  const std::vector<TensorSpec>& specs() const { return specs_; }

 private:
  std::string prefix_;
  std::vector<TensorSpec> specs_;
};

bool dtype_acceptable(const TensorSpec& spec, DType dtype);

enum class TensorFindingKind {
  MissingRequired,   // a Required tensor is absent: loading fails
  ShapeMismatch,     // present with another shape: loading fails
  DTypeNotAccepted,  // present with a dtype the spec does not accept: loading fails
  Unexpected,        // in the file but not expected (the reference may ignore it)
  MissingOptional,   // an Optional tensor is absent: it will be recomputed
};

enum class FindingSeverity { Error, Warning, Note };

struct TensorFinding {
  TensorFindingKind kind = TensorFindingKind::MissingRequired;
  std::string tensor;   // the tensor name
  std::string message;  // "<file>: <tensor>: ..." ready to print
};

std::string_view finding_kind_name(TensorFindingKind kind);
FindingSeverity finding_severity(TensorFindingKind kind);

// Compares a file's tensor list with the expectation. `file_label` names the file in messages.
// Findings come in expected order, then unexpected tensors in file order. CheckpointOnly tensors
// give no finding whether present or absent (but a wrong shape or dtype still does).
std::vector<TensorFinding> compare_tensors(std::string_view file_label,
                                           std::span<const TensorSpec> expected,
                                           std::span<const TensorInfo> actual);
bool has_errors(std::span<const TensorFinding> findings);

struct ParamCounts {
  std::int64_t tensors = 0;                 // specs excluding CheckpointOnly
  std::int64_t params = 0;                  // elements of those (the module's parameters + buffers)
  std::int64_t params_used = 0;             // of which read at inference
  std::int64_t params_checkpoint_only = 0;  // elements of CheckpointOnly specs
};
ParamCounts count_params(std::span<const TensorSpec> specs);
std::int64_t count_params(std::span<const TensorInfo> tensors);

// Specs whose name starts with `prefix`.
std::vector<TensorSpec> filter_prefix(std::span<const TensorSpec> specs, std::string_view prefix);

}  // namespace chatterd
