#pragma once
// Minimal read-only ZIP directory reader for torch checkpoints: end-of-central-directory (with the
// ZIP64 locator/record and ZIP64 extra fields), central directory, local headers. Only STORED
// entries can be read (torch never compresses); every offset and size is bounds-checked.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "weights/mapped_file.h"

namespace chatterd {

struct ZipEntry {
  std::string name;
  std::uint16_t method = 0;  // 0 = stored
  std::uint64_t size = 0;    // uncompressed
  std::uint64_t compressed_size = 0;
  std::uint64_t local_header_offset = 0;
};

class ZipReader {
 public:
  // Parses the central directory; throws ModelFormatError naming the file when it is malformed.
  explicit ZipReader(std::shared_ptr<const MappedFile> file);
  ZipReader(const ZipReader&) = delete;  // by_name_ points into entries_
  ZipReader& operator=(const ZipReader&) = delete;

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(std::string_view name) const;
  // Absolute file offset of the entry's bytes; throws ModelFormatError for a compressed or
  // encrypted entry or one whose bytes lie outside the file.
  std::uint64_t data_offset(const ZipEntry& entry) const;
  std::span<const std::byte> data(const ZipEntry& entry) const;
  const std::shared_ptr<const MappedFile>& file() const { return file_; }

 private:
  void parse();

  std::shared_ptr<const MappedFile> file_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string_view, std::size_t> by_name_;  // views into entries_' names
};

}  // namespace chatterd
