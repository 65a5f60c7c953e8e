#pragma once
// safetensors reader: u64-LE header length, JSON header {name: {dtype, shape, data_offsets}} plus
// an optional "__metadata__" string map, then the raw little-endian data. The whole header is
// validated at open (dtypes, shapes, offsets in range, byte lengths, no overlaps), so get() can
// only fail for an unknown name.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "weights/mapped_file.h"
#include "weights/tensor_file.h"

namespace chatterd {

class SafetensorsFile final : public TensorFile {
 public:
  // Throws IoError when the file cannot be read, ModelFormatError when it is not valid safetensors.
  static std::unique_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  static std::unique_ptr<SafetensorsFile> from_mapping(std::shared_ptr<const MappedFile> file);

  const std::filesystem::path& path() const override { return file_->path(); }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  bool contains(std::string_view name) const override;
  Tensor get(std::string_view name) const override;

  // Entries whose dtype is valid safetensors but has no chatterd DType (F64, U8, I16, ...):
  // name -> dtype string. They are validated and excluded from tensors(); get() on them throws.
  const std::map<std::string, std::string>& unsupported() const { return unsupported_; }
  // The header's "__metadata__" object (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  explicit SafetensorsFile(std::shared_ptr<const MappedFile> file);
  void parse();

  struct Entry {
    std::size_t info_index = 0;
    std::size_t offset = 0;  // absolute offset of the first byte in the file
  };

  std::shared_ptr<const MappedFile> file_;
  std::vector<TensorInfo> infos_;
  std::unordered_map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, std::string> unsupported_;  // name -> dtype string (F64, U8, ...)
};

}  // namespace chatterd
