#pragma once
// F64 golden tensors (e.g. cond_pipeline's loudness/lufs, loudness/gain_linear). chatterd has no
// F64 DType, so SafetensorsFile lists them in unsupported() and get() refuses them; this reads
// their bytes through the same file mapping and header, without touching the weights reader.

#include <filesystem>
#include <string_view>
#include <vector>

namespace chatterd::parity {

// All values of the F64 tensor `name` in safetensors file `path`. Throws IoError when the file
// cannot be read, ModelFormatError when the header is invalid, the tensor is missing, not F64, or
// its byte range is out of bounds.
std::vector<double> read_f64_tensor(const std::filesystem::path& path, std::string_view name);

}  // namespace chatterd::parity
