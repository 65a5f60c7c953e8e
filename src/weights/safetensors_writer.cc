#include "weights/safetensors_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "core/check.h"

namespace chatterd {
namespace {

const char* safetensors_dtype(DType dtype, const std::string& name) {
  switch (dtype) {
    case DType::F32:
      return "F32";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    case DType::I8:
      return "I8";
    case DType::I32:
      return "I32";
    case DType::I64:
      return "I64";
    case DType::Bool:
      return "BOOL";
    case DType::Q8_0:
    case DType::Q4_0:
      break;
  }
  CHATTERD_THROW(InvalidArgument,
                 "safetensors: tensor '{}' has dtype {}, which the format cannot hold", name,
                 dtype_name(dtype));
}

constexpr std::size_t kAlign = 8;

std::size_t align_up(std::size_t n) {
  return (n + kAlign - 1) / kAlign * kAlign;
}

}  // namespace

std::string serialize_safetensors(const SafetensorsContents& contents) {
  nlohmann::ordered_json header;
  if (!contents.metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : contents.metadata) meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  std::size_t offset = 0;
  for (const auto& [name, t] : contents.tensors) {
    CHATTERD_CHECK(!name.empty() && name != "__metadata__", InvalidArgument,
                   "safetensors: invalid tensor name '{}'", name);
    CHATTERD_CHECK(t.defined(), InvalidArgument, "safetensors: tensor '{}' is undefined", name);
    CHATTERD_CHECK(t.device() == Device::CPU, InvalidArgument,
                   "safetensors: tensor '{}' is not in host memory", name);
    nlohmann::ordered_json entry;
    entry["dtype"] = safetensors_dtype(t.dtype(), name);
    std::vector<std::int64_t> shape;
    for (int i = 0; i < t.rank(); ++i) shape.push_back(t.dim(i));
    entry["shape"] = shape;
    entry["data_offsets"] = {offset, offset + t.nbytes()};
    header[name] = std::move(entry);
    offset = align_up(offset + t.nbytes());
  }
  std::string head = header.empty() ? std::string("{}") : header.dump();
  head.append(align_up(head.size()) - head.size(), ' ');

  std::string out(8 + head.size() + offset, '\0');
  const std::uint64_t n = head.size();
  for (int i = 0; i < 8; ++i)
    out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  std::memcpy(out.data() + 8, head.data(), head.size());
  std::size_t pos = 8 + head.size();
  for (const auto& [name, t] : contents.tensors) {
    if (t.nbytes() > 0) std::memcpy(out.data() + pos, t.raw_data(), t.nbytes());
    pos = 8 + head.size() + align_up(pos - 8 - head.size() + t.nbytes());
  }
  return out;
}

void write_safetensors(const std::filesystem::path& path, const SafetensorsContents& contents) {
  const std::string bytes = serialize_safetensors(contents);
  std::random_device rd;
  const std::filesystem::path tmp =
      path.parent_path() / fmt::format(".{}.tmp{}", path.filename().string(), rd());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  CHATTERD_CHECK(f != nullptr, IoError, "{}: cannot create temporary file {}: {}", path.string(),
                 tmp.string(), std::strerror(errno));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() &&
                  std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  const int write_errno = errno;
  const bool closed = std::fclose(f) == 0;
  std::error_code ec;
  if (!ok || !closed) {
    std::filesystem::remove(tmp, ec);
    CHATTERD_THROW(IoError, "{}: write failed: {}", path.string(), std::strerror(write_errno));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    CHATTERD_THROW(IoError, "{}: cannot replace with {}: {}", path.string(), tmp.string(),
                   ec.message());
  }
}

}  // namespace chatterd
