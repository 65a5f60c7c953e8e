#pragma once
// Tensor: a contiguous row-major buffer with a shape, a dtype and a device. It is a buffer, not a
// maths object: no operator overloads; all computation goes through ops. A tensor either owns its
// storage (64-byte aligned) or borrows it (a view into an mmap'd file, a slice of another tensor);
// either way a shared keep-alive handle guarantees the bytes outlive every view.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>

#include "chatterd/core/dtype.h"
#include "chatterd/core/shape.h"

namespace chatterd {

class Tensor {
 public:
  Tensor() = default;

  // Uninitialised owning tensor.
  static Tensor empty(const Shape& shape, DType dtype, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, DType dtype, Device device = Device::CPU);
  // Borrowed view of external memory; `keep_alive` (may be null) is held as long as the view lives.
  static Tensor borrow(void* data, const Shape& shape, DType dtype,
                       std::shared_ptr<const void> keep_alive = {}, Device device = Device::CPU);
  // Owning copy of host values.
  template <class T>
  static Tensor from_span(std::span<const T> values, const Shape& shape);

  bool defined() const { return data_ != nullptr || shape_.numel() == 0; }
  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  int rank() const { return shape_.rank(); }
  std::int64_t dim(int i) const { return shape_.dim(i); }
  std::int64_t numel() const { return shape_.numel(); }
  std::size_t nbytes() const;

  // Typed access; throws DTypeError when T does not match dtype() (or on a non-CPU tensor).
  template <class T>
  T* data();
  template <class T>
  const T* data() const;
  // Typed pointer to a device tensor's memory (not dereferenceable on the host); throws
  // DTypeError on a dtype mismatch and Unsupported on a host tensor.
  template <class T>
  T* device_data();
  template <class T>
  const T* device_data() const;
  void* raw_data() { return data_; }
  const void* raw_data() const { return data_; }

  // Same bytes, new shape. Throws ShapeError if numel differs. The list form accepts one -1.
  Tensor reshape(const Shape& shape) const;
  Tensor reshape(std::initializer_list<std::int64_t> dims) const;
  // Rows [start, start+len) along dim 0: a contiguous view sharing storage.
  Tensor narrow0(std::int64_t start, std::int64_t len) const;
  // Index along dim 0, dropping it.
  Tensor select0(std::int64_t index) const;
  Tensor clone() const;

  // Make this tensor (shape, dtype): a no-op when it already is (so ops can write into views),
  // reusing an owned buffer with enough capacity, else reallocating. Lets hot loops keep their
  // scratch buffers. Copies of a Tensor share storage (shallow), like views. Host tensors only
  // (Unsupported on a device tensor: device ops size outputs through their backend).
  void resize(const Shape& shape, DType dtype);

  bool owns_storage() const { return owner_; }
  std::string to_string() const;  // "f32[2, 3]"

 private:
  void check_access(DType want) const;
  void check_device_access(DType want) const;

  std::shared_ptr<const void> keep_alive_;
  void* data_ = nullptr;
  std::size_t capacity_ = 0;  // bytes available at data_ when owner_
  Shape shape_;
  DType dtype_ = DType::F32;
  Device device_ = Device::CPU;
  bool owner_ = false;
};

// Bytes needed for `numel` elements (Q8_0 needs numel % kQ8BlockSize == 0).
std::size_t storage_bytes(DType dtype, std::int64_t numel);

// Throw ShapeError/DTypeError with both sides' descriptions when they differ. `what` names the
// operand ("matmul: b") for the message.
void check_shape(const Tensor& t, const Shape& expected, const char* what);
void check_dtype(const Tensor& t, DType expected, const char* what);
void check_rank(const Tensor& t, int rank, const char* what);

template <class T>
T* Tensor::data() {
  check_access(DTypeOf<T>::value);
  return static_cast<T*>(data_);
}

template <class T>
const T* Tensor::data() const {
  check_access(DTypeOf<T>::value);
  return static_cast<const T*>(data_);
}

template <class T>
T* Tensor::device_data() {
  check_device_access(DTypeOf<T>::value);
  return static_cast<T*>(data_);
}

template <class T>
const T* Tensor::device_data() const {
  check_device_access(DTypeOf<T>::value);
  return static_cast<const T*>(data_);
}

}  // namespace chatterd
