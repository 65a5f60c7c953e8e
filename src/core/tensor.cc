#include "chatterd/core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "chatterd/core/half.h"
#include "core/check.h"

namespace chatterd {
namespace {

constexpr std::size_t kAlignment = 64;

std::shared_ptr<void> allocate_aligned(std::size_t bytes) {
  const std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
  if (p == nullptr) throw std::bad_alloc();
  return {p, [](void* q) { std::free(q); }};
}

}  // namespace

std::size_t storage_bytes(DType dtype, std::int64_t numel) {
  const std::int64_t block = dtype_block_elems(dtype);
  CHATTERD_CHECK(numel % block == 0, ShapeError,
                 "{} holds blocks of {} values; {} values is not a whole number of blocks",
                 dtype_name(dtype), block, numel);
  return static_cast<std::size_t>(numel / block) * dtype_block_bytes(dtype);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  CHATTERD_CHECK(device == Device::CPU, Unsupported, "allocating on {} is not supported yet",
                 device_name(device));
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  const std::size_t bytes = storage_bytes(dtype, shape.numel());
  auto buf = allocate_aligned(bytes);
  t.data_ = buf.get();
  t.keep_alive_ = std::move(buf);
  t.capacity_ = bytes;
  t.owner_ = true;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::borrow(void* data, const Shape& shape, DType dtype,
                      std::shared_ptr<const void> keep_alive, Device device) {
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  (void)storage_bytes(dtype, shape.numel());  // validates Q8_0 block alignment
  t.data_ = data;
  t.keep_alive_ = std::move(keep_alive);
  return t;
}

template <class T>
Tensor Tensor::from_span(std::span<const T> values, const Shape& shape) {
  CHATTERD_CHECK(static_cast<std::int64_t>(values.size()) == shape.numel(), ShapeError,
                 "from_span: {} values for shape {}", values.size(), shape.to_string());
  Tensor t = empty(shape, DTypeOf<T>::value);
  if (!values.empty()) std::memcpy(t.data_, values.data(), values.size_bytes());
  return t;
}
template Tensor Tensor::from_span<float>(std::span<const float>, const Shape&);
template Tensor Tensor::from_span<Half>(std::span<const Half>, const Shape&);
template Tensor Tensor::from_span<BFloat16>(std::span<const BFloat16>, const Shape&);
template Tensor Tensor::from_span<std::int8_t>(std::span<const std::int8_t>, const Shape&);
template Tensor Tensor::from_span<std::int32_t>(std::span<const std::int32_t>, const Shape&);
template Tensor Tensor::from_span<std::int64_t>(std::span<const std::int64_t>, const Shape&);

std::size_t Tensor::nbytes() const {
  return storage_bytes(dtype_, shape_.numel());
}

void Tensor::check_access(DType want) const {
  CHATTERD_CHECK(dtype_ == want, DTypeError, "tensor {} accessed as {}", to_string(),
                 dtype_name(want));
  CHATTERD_CHECK(device_ == Device::CPU, Unsupported, "host access to a {} tensor",
                 device_name(device_));
}

void Tensor::check_device_access(DType want) const {
  CHATTERD_CHECK(dtype_ == want, DTypeError, "tensor {} accessed as {}", to_string(),
                 dtype_name(want));
  CHATTERD_CHECK(device_ != Device::CPU, Unsupported, "device access to host tensor {}",
                 to_string());
}

Tensor Tensor::reshape(const Shape& shape) const {
  CHATTERD_CHECK(shape.numel() == numel(), ShapeError, "cannot reshape {} to {}", to_string(),
                 shape.to_string());
  Tensor t = *this;
  t.shape_ = shape;
  t.owner_ = false;
  t.capacity_ = 0;
  return t;
}

Tensor Tensor::reshape(std::initializer_list<std::int64_t> dims) const {
  int infer = -1;
  std::int64_t known = 1;
  int i = 0;
  for (const std::int64_t d : dims) {
    if (d == -1) {
      CHATTERD_CHECK(infer < 0, ShapeError, "reshape of {}: more than one -1", to_string());
      infer = i;
    } else {
      CHATTERD_CHECK(d >= 0, ShapeError, "reshape of {}: negative dimension {}", to_string(), d);
      known *= d;
    }
    ++i;
  }
  Shape out;
  i = 0;
  for (const std::int64_t d : dims) {
    if (i++ == infer) {
      CHATTERD_CHECK(known != 0 && numel() % known == 0, ShapeError,
                     "cannot reshape {}: {} values do not divide into the given dims", to_string(),
                     numel());
      out.push_back(numel() / known);
    } else {
      out.push_back(d);
    }
  }
  return reshape(out);
}

Tensor Tensor::narrow0(std::int64_t start, std::int64_t len) const {
  CHATTERD_CHECK(rank() >= 1, ShapeError, "narrow0 on a scalar tensor");
  CHATTERD_CHECK(start >= 0 && len >= 0 && start + len <= shape_[0], ShapeError,
                 "narrow0: rows [{}, {}) out of range for {}", start, start + len, to_string());
  const std::int64_t row = shape_.numel() / (shape_[0] == 0 ? 1 : shape_[0]);
  Tensor t = *this;
  t.shape_.set(0, len);
  t.data_ = static_cast<char*>(data_) + storage_bytes(dtype_, row * start);
  t.owner_ = false;
  t.capacity_ = 0;
  return t;
}

Tensor Tensor::select0(std::int64_t index) const {
  Tensor t = narrow0(index, 1);
  Shape s;
  for (int i = 1; i < rank(); ++i) s.push_back(shape_[i]);
  t.shape_ = s;
  return t;
}

Tensor Tensor::clone() const {
  CHATTERD_CHECK(device_ == Device::CPU, Unsupported, "clone of a {} tensor", device_name(device_));
  Tensor t = empty(shape_, dtype_, device_);
  if (nbytes() != 0) std::memcpy(t.data_, data_, nbytes());
  return t;
}

void Tensor::resize(const Shape& shape, DType dtype) {
  // Host code writes into what it resizes: a device tensor here is a host op given a device
  // output (device ops size theirs through the backend's context).
  CHATTERD_CHECK(device_ == Device::CPU, Unsupported, "a host op cannot write into {}",
                 to_string());
  if (data_ != nullptr && shape == shape_ && dtype == dtype_) return;
  const std::size_t bytes = storage_bytes(dtype, shape.numel());
  if (owner_ && bytes <= capacity_) {
    shape_ = shape;
    dtype_ = dtype;
    return;
  }
  *this = empty(shape, dtype, device_);
}

std::string Tensor::to_string() const {
  if (device_ == Device::CPU) return fmt::format("{}{}", dtype_name(dtype_), shape_.to_string());
  return fmt::format("{}{}@{}", dtype_name(dtype_), shape_.to_string(), device_name(device_));
}

void check_shape(const Tensor& t, const Shape& expected, const char* what) {
  CHATTERD_CHECK(t.shape() == expected, ShapeError, "{}: expected shape {}, got {}", what,
                 expected.to_string(), t.shape().to_string());
}

void check_dtype(const Tensor& t, DType expected, const char* what) {
  CHATTERD_CHECK(t.dtype() == expected, DTypeError, "{}: expected dtype {}, got {}", what,
                 dtype_name(expected), t.to_string());
}

void check_rank(const Tensor& t, int rank, const char* what) {
  CHATTERD_CHECK(t.rank() == rank, ShapeError, "{}: expected rank {}, got {}", what, rank,
                 t.to_string());
}

}  // namespace chatterd
