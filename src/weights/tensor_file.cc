#include "weights/tensor_file.h"

#include <cstring>

#include "core/check.h"
#include "weights/safetensors.h"
#include "weights/torch_pt.h"

namespace chatterd {

std::unique_ptr<TensorFile> open_tensor_file(const std::filesystem::path& path) {
  auto file = MappedFile::open(path);
  // Zip local-header magic "PK\3\4": a torch checkpoint. Anything else is tried as safetensors,
  // whose first bytes are a length and so have no magic of their own.
  if (file->size() >= 4 && std::memcmp(file->data(), "PK\x03\x04", 4) == 0) {
    return TorchPtFile::from_mapping(std::move(file));
  }
  return SafetensorsFile::from_mapping(std::move(file));
}

}  // namespace chatterd
