#pragma once
// A whole file's bytes, read-only to callers: an mmap of a file on disk, or a byte buffer held in
// memory (uploads, fuzzing). Always handled through shared_ptr so that tensor views borrowed from
// it (Tensor::borrow's keep-alive) keep the bytes valid after the reader is gone.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "chatterd/core/tensor.h"

namespace chatterd {

class MappedFile {
 public:
  // Throws IoError (naming the path) when the file cannot be opened, stat'ed or mapped.
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);
  // Takes ownership of `bytes`; `name` stands in for the path in error messages.
  static std::shared_ptr<const MappedFile> from_bytes(std::vector<std::byte> bytes,
                                                      std::filesystem::path name = "<memory>");

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }

  // Tensor::borrow wants a mutable pointer. The mapping is private copy-on-write, so a stray write
  // through a view changes only this process's copy of the page, never the file, and never faults.
  void* mutable_data(std::size_t offset) const { return const_cast<std::byte*>(data_) + offset; }

 private:
  MappedFile() = default;

  std::filesystem::path path_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  bool mapped_ = false;
  std::vector<std::byte> buffer_;
};

// A tensor over bytes [offset, offset + nbytes) of `file` (the caller has bounds-checked them): a
// zero-copy view keeping `file` alive when the address suits the element type, else an owned
// aligned copy (unaligned loads of f32/i64 are undefined behaviour).
Tensor borrow_or_copy(const std::shared_ptr<const MappedFile>& file, std::size_t offset,
                      const Shape& shape, DType dtype);

}  // namespace chatterd
