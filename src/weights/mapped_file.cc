#include "weights/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "core/check.h"

namespace chatterd {
namespace {

// Closes the descriptor on every path out of open(); the mapping outlives it.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;

 private:
  int fd_;
};

}  // namespace

std::shared_ptr<const MappedFile> MappedFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  CHATTERD_CHECK(fd >= 0, IoError, "{}: cannot open: {}", path.string(), std::strerror(errno));
  FdGuard guard(fd);
  struct stat st {};
  CHATTERD_CHECK(::fstat(fd, &st) == 0, IoError, "{}: cannot stat: {}", path.string(),
                 std::strerror(errno));
  CHATTERD_CHECK(S_ISREG(st.st_mode), IoError, "{}: not a regular file", path.string());
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<std::size_t>(st.st_size);
  if (file->size_ == 0) return file;  // mmap rejects length 0; an empty file has no bytes to map
  void* p = ::mmap(nullptr, file->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHATTERD_CHECK(p != MAP_FAILED, IoError, "{}: cannot mmap {} bytes: {}", path.string(),
                 file->size_, std::strerror(errno));
  file->data_ = static_cast<std::byte*>(p);
  file->mapped_ = true;
  return file;
}

std::shared_ptr<const MappedFile> MappedFile::from_bytes(std::vector<std::byte> bytes,
                                                         std::filesystem::path name) {
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = std::move(name);
  file->buffer_ = std::move(bytes);
  file->data_ = file->buffer_.data();
  file->size_ = file->buffer_.size();
  return file;
}

Tensor borrow_or_copy(const std::shared_ptr<const MappedFile>& file, std::size_t offset,
                      const Shape& shape, DType dtype) {
  const std::size_t nbytes = storage_bytes(dtype, shape.numel());
  CHATTERD_CHECK(offset <= file->size() && nbytes <= file->size() - offset, Internal,
                 "{}: tensor bytes [{}, +{}) outside the file", file->path().string(), offset,
                 nbytes);
  void* p = file->mutable_data(offset);
  if (nbytes == 0) return Tensor::empty(shape, dtype);
  const std::size_t align = dtype_is_blocked(dtype) ? alignof(float) : dtype_block_bytes(dtype);
  if (reinterpret_cast<std::uintptr_t>(p) % align == 0) {
    return Tensor::borrow(p, shape, dtype, file);
  }
  Tensor t = Tensor::empty(shape, dtype);
  std::memcpy(t.raw_data(), p, nbytes);
  return t;
}

MappedFile::~MappedFile() {
  if (mapped_) ::munmap(data_, size_);
}

}  // namespace chatterd
