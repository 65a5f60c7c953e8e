#pragma once
// A file of named tensors, whatever its format (safetensors, torch .pt). Tensors are returned as
// zero-copy views where the format allows (safetensors: a view into the mmap'd file; the view keeps
// the mapping alive). Every error names the file and, where there is one, the tensor.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chatterd/core/tensor.h"

namespace chatterd {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
};

class TensorFile {
 public:
  virtual ~TensorFile() = default;
  TensorFile() = default;
  TensorFile(const TensorFile&) = delete;
  TensorFile& operator=(const TensorFile&) = delete;

  virtual const std::filesystem::path& path() const = 0;
  // Every tensor, in the order the file lists them.
  virtual const std::vector<TensorInfo>& tensors() const = 0;
  virtual bool contains(std::string_view name) const = 0;
  // The tensor's data; throws ModelFormatError("<file>: no tensor '<name>'") when absent.
  virtual Tensor get(std::string_view name) const = 0;
};

// Opens by content (safetensors header or zip magic), not by extension. Throws IoError when the
// file cannot be read and ModelFormatError when it is not a valid tensor file; both name the path.
std::unique_ptr<TensorFile> open_tensor_file(const std::filesystem::path& path);

}  // namespace chatterd
