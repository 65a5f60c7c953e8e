#pragma once
// Writes a safetensors file readable by SafetensorsFile (and the Python library): an 8-byte
// little-endian header length, a JSON header {"__metadata__": {str: str}, name: {dtype, shape,
// data_offsets}} padded with spaces to a multiple of 8 bytes, then the tensor bytes in
// name order, each 8-byte aligned. The write is atomic: a temporary file in the same folder is
// written, flushed and renamed over the target, so a reader never sees a partial file.

#include <filesystem>
#include <map>
#include <string>

#include "chatterd/core/tensor.h"

namespace chatterd {

struct SafetensorsContents {
  std::map<std::string, Tensor> tensors;  // sorted by name (the layout order)
  std::map<std::string, std::string> metadata;
};

// The whole file image. Throws InvalidArgument for an empty or "__metadata__" name, an undefined
// tensor, or a dtype safetensors cannot name (Q8_0).
std::string serialize_safetensors(const SafetensorsContents& contents);

// serialize_safetensors + atomic replace of `path`. Throws IoError naming the path on failure
// (the temporary file is removed).
void write_safetensors(const std::filesystem::path& path, const SafetensorsContents& contents);

}  // namespace chatterd
