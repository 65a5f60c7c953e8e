#include "weights/safetensors.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/check.h"

namespace chatterd {
namespace {

// A header this size is already far beyond any real checkpoint (the largest have ~2 MB headers).
constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;

std::optional<DType> parse_dtype(std::string_view s) {
  if (s == "F32") return DType::F32;
  if (s == "F16") return DType::F16;
  if (s == "BF16") return DType::BF16;
  if (s == "I64") return DType::I64;
  if (s == "I32") return DType::I32;
  if (s == "I8") return DType::I8;
  if (s == "BOOL") return DType::Bool;
  return std::nullopt;
}

// Valid safetensors dtypes chatterd has no DType for: the file still opens (goldens carry a few
// F64 scalars), the entry is validated like any other, and only get() on it fails.
std::uint64_t foreign_dtype_size(std::string_view s) {
  if (s == "F64" || s == "U64") return 8;
  if (s == "U32") return 4;
  if (s == "I16" || s == "U16") return 2;
  if (s == "U8" || s == "F8_E4M3" || s == "F8_E5M2") return 1;
  return 0;
}

std::uint64_t read_u64_le(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint64_t>(p[i]);
  return v;
}

}  // namespace

SafetensorsFile::SafetensorsFile(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::filesystem::path& path) {
  return from_mapping(MappedFile::open(path));
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::from_mapping(
    std::shared_ptr<const MappedFile> file) {
  std::unique_ptr<SafetensorsFile> st(new SafetensorsFile(std::move(file)));
  st->parse();
  return st;
}

void SafetensorsFile::parse() {
  const std::string path = file_->path().string();
  const std::size_t size = file_->size();
  CHATTERD_CHECK(size >= 8, ModelFormatError,
                 "{}: not a safetensors file: {} bytes, shorter than the 8-byte header length",
                 path, size);
  const std::uint64_t header_len = read_u64_le(file_->data());
  CHATTERD_CHECK(header_len <= kMaxHeaderBytes, ModelFormatError,
                 "{}: safetensors header length {} exceeds the {} byte limit", path, header_len,
                 kMaxHeaderBytes);
  CHATTERD_CHECK(header_len <= size - 8, ModelFormatError,
                 "{}: safetensors header length {} runs past the end of the {}-byte file", path,
                 header_len, size);
  const auto* text = reinterpret_cast<const char*>(file_->data() + 8);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, text + header_len);
  } catch (const nlohmann::json::exception& e) {
    CHATTERD_THROW(ModelFormatError, "{}: safetensors header is not valid JSON: {}", path,
                   e.what());
  }
  CHATTERD_CHECK(header.is_object(), ModelFormatError,
                 "{}: safetensors header is a JSON {}, not an object", path, header.type_name());

  const std::size_t data_start = 8 + static_cast<std::size_t>(header_len);
  const std::size_t data_size = size - data_start;
  constexpr std::size_t kForeign = static_cast<std::size_t>(-1);
  struct Range {
    std::uint64_t begin, end;
    std::size_t index;  // into infos_, or kForeign
    std::string name;
  };
  std::vector<Range> ranges;
  for (const auto& [name, desc] : header.items()) {
    if (name == "__metadata__") {
      CHATTERD_CHECK(desc.is_object(), ModelFormatError, "{}: __metadata__ is not an object", path);
      for (const auto& [key, value] : desc.items()) {
        CHATTERD_CHECK(value.is_string(), ModelFormatError,
                       "{}: __metadata__ value '{}' is a {}, not a string", path, key,
                       value.type_name());
        metadata_.emplace(key, value.get<std::string>());
      }
      continue;
    }
    CHATTERD_CHECK(desc.is_object(), ModelFormatError, "{}: tensor '{}': entry is not an object",
                   path, name);
    const auto dt = desc.find("dtype");
    const auto sh = desc.find("shape");
    const auto off = desc.find("data_offsets");
    CHATTERD_CHECK(dt != desc.end() && dt->is_string(), ModelFormatError,
                   "{}: tensor '{}': missing or non-string 'dtype'", path, name);
    CHATTERD_CHECK(sh != desc.end() && sh->is_array(), ModelFormatError,
                   "{}: tensor '{}': missing or non-array 'shape'", path, name);
    CHATTERD_CHECK(off != desc.end() && off->is_array() && off->size() == 2 &&
                       (*off)[0].is_number_unsigned() && (*off)[1].is_number_unsigned(),
                   ModelFormatError,
                   "{}: tensor '{}': 'data_offsets' must be two non-negative integers", path, name);
    const std::string dtype_str = dt->get<std::string>();
    const std::optional<DType> dtype = parse_dtype(dtype_str);
    const std::uint64_t foreign_size = foreign_dtype_size(dtype_str);
    CHATTERD_CHECK(dtype.has_value() || foreign_size != 0, ModelFormatError,
                   "{}: tensor '{}': unknown dtype '{}'", path, name, dtype_str);
    CHATTERD_CHECK(sh->size() <= static_cast<std::size_t>(Shape::kMaxRank), ModelFormatError,
                   "{}: tensor '{}': rank {} exceeds {}", path, name, sh->size(), Shape::kMaxRank);
    const std::uint64_t elem = dtype ? dtype_block_bytes(*dtype) : foreign_size;
    std::uint64_t nbytes = elem;
    std::vector<std::int64_t> dims;
    for (const auto& d : *sh) {
      CHATTERD_CHECK(d.is_number_unsigned(), ModelFormatError,
                     "{}: tensor '{}': shape entry {} is not a non-negative integer", path, name,
                     d.dump());
      const auto v = d.get<std::uint64_t>();
      // Bound every partial product so numel * element size can never wrap.
      CHATTERD_CHECK(
          v == 0 ||
              nbytes <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / v,
          ModelFormatError, "{}: tensor '{}': shape {} overflows", path, name, sh->dump());
      nbytes *= v;
      dims.push_back(static_cast<std::int64_t>(v));
    }
    const auto begin = (*off)[0].get<std::uint64_t>();
    const auto end = (*off)[1].get<std::uint64_t>();
    CHATTERD_CHECK(begin <= end && end <= data_size, ModelFormatError,
                   "{}: tensor '{}': data_offsets [{}, {}) outside the {}-byte data section", path,
                   name, begin, end, data_size);
    CHATTERD_CHECK(end - begin == nbytes, ModelFormatError,
                   "{}: tensor '{}': {} {} needs {} bytes but data_offsets span {}", path, name,
                   dtype_str, sh->dump(), nbytes, end - begin);
    if (!dtype) {
      ranges.push_back({begin, end, kForeign, name});
      unsupported_.emplace(name, dtype_str);
      continue;
    }
    TensorInfo info;
    info.name = name;
    info.dtype = *dtype;
    info.shape = Shape(std::span<const std::int64_t>(dims));
    ranges.push_back({begin, end, infos_.size(), name});
    entries_.emplace(name, Entry{infos_.size(), data_start + static_cast<std::size_t>(begin)});
    infos_.push_back(std::move(info));
  }
  // nlohmann's object is sorted by key; list tensors in file order as safetensors writers do.
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const Range* last = nullptr;  // the non-empty range reaching furthest so far
  for (const Range& cur : ranges) {
    if (cur.begin == cur.end) continue;  // empty tensors occupy no bytes
    if (last != nullptr) {
      CHATTERD_CHECK(cur.begin >= last->end, ModelFormatError,
                     "{}: tensors '{}' [{}, {}) and '{}' [{}, {}) overlap", path, last->name,
                     last->begin, last->end, cur.name, cur.begin, cur.end);
    }
    last = &cur;
  }
  std::vector<TensorInfo> ordered;
  ordered.reserve(infos_.size());
  for (const Range& r : ranges) {
    if (r.index != kForeign) ordered.push_back(infos_[r.index]);
  }
  infos_ = std::move(ordered);
  for (std::size_t i = 0; i < infos_.size(); ++i) entries_.at(infos_[i].name).info_index = i;
}

bool SafetensorsFile::contains(std::string_view name) const {
  return entries_.find(std::string(name)) != entries_.end();
}

Tensor SafetensorsFile::get(std::string_view name) const {
  const auto it = entries_.find(std::string(name));
  if (const auto u = unsupported_.find(std::string(name)); u != unsupported_.end()) {
    CHATTERD_THROW(ModelFormatError,
                   "{}: tensor '{}': unsupported dtype '{}' (supported: F32 F16 BF16 I64 I32 I8 "
                   "BOOL)",
                   file_->path().string(), name, u->second);
  }
  CHATTERD_CHECK(it != entries_.end(), ModelFormatError, "{}: no tensor '{}'",
                 file_->path().string(), name);
  const TensorInfo& info = infos_[it->second.info_index];
  return borrow_or_copy(file_, it->second.offset, info.shape, info.dtype);
}

}  // namespace chatterd
