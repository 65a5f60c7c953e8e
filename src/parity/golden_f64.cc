#include "parity/golden_f64.h"

#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "core/check.h"
#include "weights/mapped_file.h"

namespace chatterd::parity {

std::vector<double> read_f64_tensor(const std::filesystem::path& path, std::string_view name) {
  const auto file = MappedFile::open(path);
  const auto bytes = file->bytes();
  CHATTERD_CHECK(bytes.size() >= 8, ModelFormatError, "{}: too short for a safetensors header",
                 path.string());
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) {
    header_len = (header_len << 8) | static_cast<std::uint8_t>(bytes[static_cast<std::size_t>(i)]);
  }
  CHATTERD_CHECK(header_len <= bytes.size() - 8, ModelFormatError,
                 "{}: header length {} exceeds the file", path.string(), header_len);
  const auto* hdr = reinterpret_cast<const char*>(bytes.data() + 8);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(hdr, hdr + header_len);
  } catch (const nlohmann::json::exception& e) {
    CHATTERD_THROW(ModelFormatError, "{}: bad safetensors header: {}", path.string(), e.what());
  }
  const std::string key(name);
  CHATTERD_CHECK(header.is_object() && header.contains(key), ModelFormatError, "{}: no tensor '{}'",
                 path.string(), key);
  const auto& entry = header.at(key);
  CHATTERD_CHECK(entry.value("dtype", std::string()) == "F64", ModelFormatError,
                 "{}: tensor '{}' is {}, not F64", path.string(), key,
                 entry.value("dtype", std::string("?")));
  std::uint64_t numel = 1;
  for (const auto& d : entry.at("shape")) numel *= d.get<std::uint64_t>();
  const auto begin = entry.at("data_offsets").at(0).get<std::uint64_t>();
  const auto end = entry.at("data_offsets").at(1).get<std::uint64_t>();
  const std::uint64_t data_start = 8 + header_len;
  CHATTERD_CHECK(begin <= end && end - begin == numel * 8 && end <= bytes.size() - data_start,
                 ModelFormatError, "{}: tensor '{}' has a bad byte range [{}, {})", path.string(),
                 key, begin, end);
  std::vector<double> out(static_cast<std::size_t>(numel));
  // Little-endian on disk; the engine only targets little-endian hosts.
  std::memcpy(out.data(), bytes.data() + data_start + begin, out.size() * sizeof(double));
  return out;
}

}  // namespace chatterd::parity
