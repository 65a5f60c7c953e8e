#include "weights/torch_pt.h"

#include <cstring>
#include <limits>
#include <optional>

#include "core/check.h"
#include "weights/zip_reader.h"

namespace chatterd {
namespace {

using K = PickleValue::Kind;

std::optional<DType> storage_dtype(std::string_view storage_type) {
  if (storage_type == "torch.FloatStorage") return DType::F32;
  if (storage_type == "torch.HalfStorage") return DType::F16;
  if (storage_type == "torch.BFloat16Storage") return DType::BF16;
  if (storage_type == "torch.LongStorage") return DType::I64;
  if (storage_type == "torch.IntStorage") return DType::I32;
  if (storage_type == "torch.CharStorage") return DType::I8;
  if (storage_type == "torch.BoolStorage") return DType::Bool;
  return std::nullopt;
}

}  // namespace

// Walks the pickled object once at open, validating every tensor against its storage.
class TorchPtFile::Builder {
 public:
  Builder(TorchPtFile& out, const ZipReader& zip, std::string root)
      : out_(out), zip_(zip), root_(std::move(root)), path_(out.file_->path().string()) {}

  void flatten(const PickleValue& v, const std::string& prefix, int depth) {
    CHATTERD_CHECK(depth <= Pickle::kMaxDepth, ModelFormatError,
                   "{}: checkpoint object nested deeper than {} (or cyclic) at '{}'", path_,
                   Pickle::kMaxDepth, prefix);
    for (std::size_t i = 0; i + 1 < v.items.size(); i += 2) {
      const PickleValue& key = *v.items[i];
      const PickleValue& value = *v.items[i + 1];
      std::string name = prefix;
      if (key.is(K::String)) {
        name += key.str;
      } else if (key.is(K::Int)) {
        name += std::to_string(key.integer);
      } else {
        CHATTERD_THROW(ModelFormatError, "{}: dict under '{}' has a {} key; expected str", path_,
                       prefix, key.kind_name());
      }
      if (value.is(K::Dict)) {
        flatten(value, name + ".", depth + 1);
        continue;
      }
      CHATTERD_CHECK(out_.records_.count(name) == 0 && out_.values_.count(name) == 0,
                     ModelFormatError, "{}: name '{}' occurs twice after flattening", path_, name);
      if (value.is(K::Call)) {
        add_tensor(name, value);
      } else {
        CHATTERD_CHECK(!value.is(K::Global) && !value.is(K::PersistentId), ModelFormatError,
                       "{}: '{}' holds a bare {}", path_, name, value.kind_name());
        out_.values_.emplace(name, &value);
      }
    }
  }

 private:
  std::int64_t int_arg(const PickleValue& v, const std::string& name, const char* what) const {
    CHATTERD_CHECK(v.is(K::Int), ModelFormatError, "{}: tensor '{}': {} is a {}, not an int", path_,
                   name, what, v.kind_name());
    return v.integer;
  }
  std::vector<std::int64_t> int_tuple(const PickleValue& v, const std::string& name,
                                      const char* what) const {
    CHATTERD_CHECK(v.is(K::Tuple), ModelFormatError, "{}: tensor '{}': {} is a {}, not a tuple",
                   path_, name, what, v.kind_name());
    std::vector<std::int64_t> out;
    for (const PickleValue* item : v.items) {
      const std::int64_t x = int_arg(*item, name, what);
      CHATTERD_CHECK(x >= 0, ModelFormatError, "{}: tensor '{}': negative {} entry {}", path_, name,
                     what, x);
      out.push_back(x);
    }
    return out;
  }

  void add_tensor(const std::string& name, const PickleValue& call_in) {
    const PickleValue* call = &call_in;
    if (call->str == "torch._utils._rebuild_parameter") {
      // (data, requires_grad, backward_hooks): the parameter's data is the tensor itself.
      CHATTERD_CHECK(!call->items.empty() && call->items[0]->is(K::Call), ModelFormatError,
                     "{}: tensor '{}': _rebuild_parameter without tensor data", path_, name);
      call = call->items[0];
    }
    CHATTERD_CHECK(call->str == "torch._utils._rebuild_tensor_v2", ModelFormatError,
                   "{}: '{}' is built by {}, which is not a tensor", path_, name, call->str);
    // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    const auto& args = call->items;
    CHATTERD_CHECK(args.size() == 6 || args.size() == 7, ModelFormatError,
                   "{}: tensor '{}': _rebuild_tensor_v2 with {} arguments", path_, name,
                   args.size());
    CHATTERD_CHECK(args[0]->is(K::PersistentId) && args[0]->items.size() == 1 &&
                       args[0]->items[0]->is(K::Tuple),
                   ModelFormatError, "{}: tensor '{}': storage is not a persistent id tuple", path_,
                   name);
    // ('storage', StorageType, key, location, numel)
    const auto& pid = args[0]->items[0]->items;
    CHATTERD_CHECK(pid.size() == 5 && pid[0]->is(K::String) && pid[0]->str == "storage" &&
                       pid[1]->is(K::Global) && pid[2]->is(K::String),
                   ModelFormatError, "{}: tensor '{}': malformed storage persistent id", path_,
                   name);
    const std::optional<DType> dtype = storage_dtype(pid[1]->str);
    CHATTERD_CHECK(dtype.has_value(), ModelFormatError,
                   "{}: tensor '{}': unsupported storage type {}", path_, name, pid[1]->str);
    const std::string& key = pid[2]->str;
    const std::int64_t storage_numel = int_arg(*pid[4], name, "storage numel");
    const std::int64_t offset = int_arg(*args[1], name, "storage offset");
    const std::vector<std::int64_t> sizes = int_tuple(*args[2], name, "size");
    const std::vector<std::int64_t> strides = int_tuple(*args[3], name, "stride");
    CHATTERD_CHECK(
        sizes.size() == strides.size() && sizes.size() <= static_cast<std::size_t>(Shape::kMaxRank),
        ModelFormatError, "{}: tensor '{}': size rank {} / stride rank {} (max {})", path_, name,
        sizes.size(), strides.size(), Shape::kMaxRank);
    CHATTERD_CHECK(storage_numel >= 0 && offset >= 0 && offset <= storage_numel, ModelFormatError,
                   "{}: tensor '{}': storage offset {} outside its {} elements", path_, name,
                   offset, storage_numel);

    const ZipEntry* entry = zip_.find(root_ + "/data/" + key);
    CHATTERD_CHECK(entry != nullptr, ModelFormatError,
                   "{}: tensor '{}': storage '{}' has no zip entry '{}/data/{}'", path_, name, key,
                   root_, key);
    const std::uint64_t elem = dtype_block_bytes(*dtype);
    const auto numel_u = static_cast<std::uint64_t>(storage_numel);
    CHATTERD_CHECK(numel_u <= std::numeric_limits<std::uint64_t>::max() / elem &&
                       entry->size == numel_u * elem,
                   ModelFormatError,
                   "{}: tensor '{}': storage '{}' holds {} bytes, expected {} x {} bytes", path_,
                   name, key, entry->size, storage_numel, elem);
    const std::uint64_t data_offset = zip_.data_offset(*entry);

    // The largest element index the view touches must lie inside the storage. Every term is
    // bounded by storage_numel before it is added, so nothing overflows.
    std::int64_t numel = 1;
    std::int64_t last = offset;
    for (std::size_t i = 0; i < sizes.size(); ++i) numel = sizes[i] == 0 ? 0 : numel;
    if (numel != 0) {
      for (std::size_t i = 0; i < sizes.size(); ++i) {
        const std::int64_t span = sizes[i] - 1;
        CHATTERD_CHECK(strides[i] == 0 || span <= (storage_numel - last) / strides[i],
                       ModelFormatError,
                       "{}: tensor '{}': size/stride/offset reach past its {}-element storage",
                       path_, name, storage_numel);
        last += span * strides[i];
      }
      CHATTERD_CHECK(last < storage_numel, ModelFormatError,
                     "{}: tensor '{}': size/stride/offset reach past its {}-element storage", path_,
                     name, storage_numel);
    }
    bool contiguous = true;
    std::int64_t expect = 1;
    for (std::size_t i = sizes.size(); i-- > 0;) {
      if (sizes[i] != 1 && strides[i] != expect) contiguous = false;
      expect *= sizes[i];
    }

    TensorInfo info;
    info.name = name;
    info.dtype = *dtype;
    info.shape = Shape(std::span<const std::int64_t>(sizes));
    Record rec;
    rec.info_index = out_.infos_.size();
    rec.storage_offset = static_cast<std::size_t>(data_offset);
    rec.element_offset = offset;
    rec.strides = strides;
    rec.contiguous = contiguous;
    out_.records_.emplace(name, std::move(rec));
    out_.infos_.push_back(std::move(info));
  }

  TorchPtFile& out_;
  const ZipReader& zip_;
  std::string root_;
  std::string path_;
};

TorchPtFile::TorchPtFile(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {}

std::unique_ptr<TorchPtFile> TorchPtFile::open(const std::filesystem::path& path) {
  return from_mapping(MappedFile::open(path));
}

std::unique_ptr<TorchPtFile> TorchPtFile::from_mapping(std::shared_ptr<const MappedFile> file) {
  std::unique_ptr<TorchPtFile> pt(new TorchPtFile(std::move(file)));
  pt->parse();
  return pt;
}

void TorchPtFile::parse() {
  const std::string path = file_->path().string();
  const ZipReader zip(file_);
  const ZipEntry* pkl = nullptr;
  for (const ZipEntry& e : zip.entries()) {
    const auto slash = e.name.find('/');
    if (slash == std::string::npos || slash == 0 || e.name.substr(slash) != "/data.pkl") continue;
    CHATTERD_CHECK(pkl == nullptr, ModelFormatError, "{}: more than one data.pkl ('{}' and '{}')",
                   path, pkl->name, e.name);
    pkl = &e;
  }
  CHATTERD_CHECK(pkl != nullptr, ModelFormatError,
                 "{}: zip archive has no '<root>/data.pkl': not a torch checkpoint", path);
  const std::string root = pkl->name.substr(0, pkl->name.find('/'));
  if (const ZipEntry* bo = zip.find(root + "/byteorder")) {
    const auto bytes = zip.data(*bo);
    const std::string order(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    CHATTERD_CHECK(order == "little", Unsupported,
                   "{}: checkpoint byte order is '{}'; only little-endian is supported", path,
                   order);
  }
  pickle_ = std::make_unique<Pickle>(zip.data(*pkl), path + ":" + pkl->name);
  CHATTERD_CHECK(pickle_->root().is(K::Dict), ModelFormatError,
                 "{}: checkpoint holds a {}, not a dict of tensors", path,
                 pickle_->root().kind_name());
  Builder(*this, zip, root).flatten(pickle_->root(), "", 1);
}

bool TorchPtFile::contains(std::string_view name) const {
  return records_.find(std::string(name)) != records_.end();
}

Tensor TorchPtFile::get(std::string_view name) const {
  const auto it = records_.find(std::string(name));
  CHATTERD_CHECK(it != records_.end(), ModelFormatError, "{}: no tensor '{}'",
                 file_->path().string(), name);
  const Record& rec = it->second;
  const TensorInfo& info = infos_[rec.info_index];
  const std::size_t elem = dtype_block_bytes(info.dtype);
  const std::size_t base = rec.storage_offset + static_cast<std::size_t>(rec.element_offset) * elem;
  if (rec.contiguous) return borrow_or_copy(file_, base, info.shape, info.dtype);
  // Non-contiguous view (e.g. a saved transpose): gather into a contiguous copy.
  Tensor out = Tensor::empty(info.shape, info.dtype);
  auto* dst = static_cast<std::byte*>(out.raw_data());
  const std::byte* src = file_->data() + base;
  const int rank = info.shape.rank();
  std::vector<std::int64_t> index(static_cast<std::size_t>(rank), 0);
  const std::int64_t numel = info.shape.numel();
  std::int64_t src_elem = 0;
  for (std::int64_t n = 0; n < numel; ++n) {
    std::memcpy(dst + static_cast<std::size_t>(n) * elem,
                src + static_cast<std::size_t>(src_elem) * elem, elem);
    for (int d = rank - 1; d >= 0; --d) {  // odometer increment, last dim fastest
      const auto du = static_cast<std::size_t>(d);
      src_elem += rec.strides[du];
      if (++index[du] < info.shape[d]) break;
      src_elem -= rec.strides[du] * index[du];
      index[du] = 0;
    }
  }
  return out;
}

}  // namespace chatterd
