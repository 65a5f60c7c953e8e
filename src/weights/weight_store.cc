#include "weights/weight_store.h"

#include "core/check.h"
#include "ops/convert.h"
#include "ops/exec_context.h"

namespace chatterd {

std::shared_ptr<WeightStore> WeightStore::open(const std::filesystem::path& path) {
  return from_file(open_tensor_file(path));
}

std::shared_ptr<WeightStore> WeightStore::from_file(std::shared_ptr<const TensorFile> file) {
  CHATTERD_CHECK(file != nullptr, InvalidArgument, "WeightStore::from_file: null file");
  std::shared_ptr<WeightStore> store(new WeightStore());
  store->label_ = file->path().string();
  store->file_ = std::move(file);
  return store;
}

std::shared_ptr<WeightStore> WeightStore::from_tensors(
    std::map<std::string, Tensor, std::less<>> tensors, std::string label) {
  std::shared_ptr<WeightStore> store(new WeightStore());
  store->label_ = std::move(label);
  store->memory_ = std::move(tensors);
  return store;
}

bool WeightStore::contains(std::string_view name) const {
  if (file_) return file_->contains(name);
  return memory_.find(name) != memory_.end();
}

std::vector<TensorInfo> WeightStore::tensors() const {
  if (file_) return file_->tensors();
  std::vector<TensorInfo> out;
  out.reserve(memory_.size());
  for (const auto& [name, t] : memory_) out.push_back({name, t.dtype(), t.shape()});
  return out;
}

Tensor WeightStore::fetch(std::string_view name) const {
  Tensor t;
  if (file_) {
    CHATTERD_CHECK(file_->contains(name), ModelFormatError, "{}: missing tensor '{}'", label_,
                   name);
    t = file_->get(name);
  } else {
    const auto it = memory_.find(name);
    CHATTERD_CHECK(it != memory_.end(), ModelFormatError, "{}: missing tensor '{}'", label_, name);
    t = it->second;
  }
  const std::lock_guard<std::mutex> lock(used_mutex_);
  used_.emplace(name);
  return t;
}

Tensor WeightStore::get(std::string_view name, const Shape& shape) const {
  Tensor t = fetch(name);
  CHATTERD_CHECK(t.shape() == shape, ModelFormatError, "{}: tensor '{}' has shape {}, expected {}",
                 label_, name, t.shape().to_string(), shape.to_string());
  return t;
}

Tensor WeightStore::get_f32(std::string_view name, const Shape& shape) const {
  Tensor t = get(name, shape);
  if (t.dtype() == DType::F32) return t;
  CHATTERD_CHECK(t.dtype() == DType::F16 || t.dtype() == DType::BF16, ModelFormatError,
                 "{}: tensor '{}' is {}, expected a float dtype", label_, name,
                 dtype_name(t.dtype()));
  Tensor out;
  ops::convert(ExecContext{}, t, DType::F32, out);  // the SIMD convert kernels, one thread
  return out;
}

Tensor WeightStore::get_any(std::string_view name) const {
  return fetch(name);
}

std::vector<std::string> WeightStore::unused() const {
  std::vector<std::string> out;
  const std::lock_guard<std::mutex> lock(used_mutex_);
  for (const TensorInfo& info : tensors()) {
    if (used_.find(info.name) == used_.end()) out.push_back(info.name);
  }
  return out;
}

}  // namespace chatterd
