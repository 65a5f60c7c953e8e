#pragma once
// The checked way a model reads its weights. Layers ask for a tensor by full name and expected
// shape; the store throws a ModelFormatError naming the file and tensor when it is missing or
// misshaped, records which tensors were used, and can report those never asked for. Tensors come
// from one or more TensorFiles (zero-copy views of the mmap'd files) or from an in-memory map
// (synthetic models, tests).

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "chatterd/core/tensor.h"
#include "weights/tensor_file.h"

namespace chatterd {

class WeightStore {
 public:
  // Opens `path` (safetensors or .pt). `label` names the store in errors (defaults to the path).
  static std::shared_ptr<WeightStore> open(const std::filesystem::path& path);
  static std::shared_ptr<WeightStore> from_file(std::shared_ptr<const TensorFile> file);
  // In-memory weights, e.g. a synthetic model; `label` appears in errors ("synthetic:turbo").
  static std::shared_ptr<WeightStore> from_tensors(
      std::map<std::string, Tensor, std::less<>> tensors, std::string label);

  const std::string& label() const { return label_; }
  bool contains(std::string_view name) const;
  std::vector<TensorInfo> tensors() const;

  // The tensor as stored (f32, f16, bf16, i64...), checked against `shape`.
  Tensor get(std::string_view name, const Shape& shape) const;
  // Like get() but any float dtype is converted to an owned f32 copy (for small tensors that are
  // used in f32 arithmetic: norms, biases, embeddings of a few rows). f32 stays zero-copy.
  Tensor get_f32(std::string_view name, const Shape& shape) const;
  // Without a shape check, for tensors whose shape is data (e.g. conds.pt prompt lengths).
  Tensor get_any(std::string_view name) const;

  // Names present in the store but never fetched (for "unused tensor" reports).
  std::vector<std::string> unused() const;

 private:
  WeightStore() = default;
  Tensor fetch(std::string_view name) const;

  std::string label_;
  std::shared_ptr<const TensorFile> file_;
  std::map<std::string, Tensor, std::less<>> memory_;
  mutable std::mutex used_mutex_;
  mutable std::set<std::string, std::less<>> used_;
};

}  // namespace chatterd
