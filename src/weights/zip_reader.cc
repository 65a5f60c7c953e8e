#include "weights/zip_reader.h"

#include "core/check.h"

namespace chatterd {
namespace {

constexpr std::uint32_t kEocdSig = 0x06054b50;
constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
constexpr std::uint32_t kZip64EocdSig = 0x06064b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kLocalSig = 0x04034b50;
constexpr std::size_t kEocdSize = 22;
constexpr std::size_t kMaxCommentSize = 0xffff;
constexpr std::size_t kMaxEntries = 1u << 20;

// Little-endian reads from a span with bounds checks; `what` names the structure for errors.
class Cursor {
 public:
  Cursor(std::span<const std::byte> bytes, const std::string& path) : b_(bytes), path_(path) {}

  void check(std::uint64_t off, std::uint64_t n, const char* what) const {
    CHATTERD_CHECK(off <= b_.size() && n <= b_.size() - off, ModelFormatError,
                   "{}: zip {} at offset {} (+{} bytes) lies outside the {}-byte file", path_, what,
                   off, n, b_.size());
  }
  std::uint64_t le(std::uint64_t off, int n) const {
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) {
      v = (v << 8) | static_cast<std::uint64_t>(b_[static_cast<std::size_t>(off) + i]);
    }
    return v;
  }
  std::uint16_t u16(std::uint64_t off) const { return static_cast<std::uint16_t>(le(off, 2)); }
  std::uint32_t u32(std::uint64_t off) const { return static_cast<std::uint32_t>(le(off, 4)); }
  std::uint64_t u64(std::uint64_t off) const { return le(off, 8); }

 private:
  std::span<const std::byte> b_;
  const std::string& path_;
};

}  // namespace

ZipReader::ZipReader(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {
  parse();
}

void ZipReader::parse() {
  const std::string path = file_->path().string();
  const std::size_t size = file_->size();
  const Cursor c(file_->bytes(), path);
  CHATTERD_CHECK(size >= kEocdSize, ModelFormatError,
                 "{}: not a zip archive: {} bytes is too short", path, size);
  // The EOCD is the last record, followed only by a comment of at most 64 KiB.
  std::size_t eocd = size;
  const std::size_t lowest =
      size - kEocdSize > kMaxCommentSize ? size - kEocdSize - kMaxCommentSize : 0;
  for (std::size_t pos = size - kEocdSize + 1; pos-- > lowest;) {
    if (c.u32(pos) == kEocdSig && pos + kEocdSize + c.u16(pos + 20) == size) {
      eocd = pos;
      break;
    }
  }
  CHATTERD_CHECK(eocd != size, ModelFormatError,
                 "{}: not a zip archive: no end-of-central-directory record", path);
  std::uint64_t count = c.u16(eocd + 10);
  std::uint64_t cd_size = c.u32(eocd + 12);
  std::uint64_t cd_offset = c.u32(eocd + 16);
  if (count == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff) {
    CHATTERD_CHECK(eocd >= 20 && c.u32(eocd - 20) == kZip64LocatorSig, ModelFormatError,
                   "{}: zip EOCD needs ZIP64 but has no ZIP64 locator", path);
    const std::uint64_t rec = c.u64(eocd - 20 + 8);
    c.check(rec, 56, "ZIP64 end-of-central-directory");
    CHATTERD_CHECK(c.u32(rec) == kZip64EocdSig, ModelFormatError,
                   "{}: bad ZIP64 end-of-central-directory signature", path);
    count = c.u64(rec + 32);
    cd_size = c.u64(rec + 40);
    cd_offset = c.u64(rec + 48);
  }
  c.check(cd_offset, cd_size, "central directory");
  // Each central header is at least 46 bytes, which bounds a corrupt count before we reserve.
  CHATTERD_CHECK(count <= kMaxEntries && count * 46 <= cd_size, ModelFormatError,
                 "{}: zip claims {} entries in a {}-byte central directory", path, count, cd_size);
  entries_.reserve(static_cast<std::size_t>(count));
  std::uint64_t pos = cd_offset;
  const std::uint64_t cd_end = cd_offset + cd_size;
  for (std::uint64_t i = 0; i < count; ++i) {
    CHATTERD_CHECK(pos + 46 <= cd_end, ModelFormatError,
                   "{}: zip central directory truncated at entry {}", path, i);
    CHATTERD_CHECK(c.u32(pos) == kCentralSig, ModelFormatError,
                   "{}: bad zip central directory signature at offset {}", path, pos);
    ZipEntry e;
    const std::uint16_t flags = c.u16(pos + 8);
    e.method = c.u16(pos + 10);
    e.compressed_size = c.u32(pos + 20);
    e.size = c.u32(pos + 24);
    const std::uint16_t name_len = c.u16(pos + 28);
    const std::uint16_t extra_len = c.u16(pos + 30);
    const std::uint16_t comment_len = c.u16(pos + 32);
    e.local_header_offset = c.u32(pos + 42);
    const std::uint64_t var_end = pos + 46 + name_len + extra_len + comment_len;
    CHATTERD_CHECK(var_end <= cd_end, ModelFormatError,
                   "{}: zip central directory entry {} runs past the directory", path, i);
    const auto* name = reinterpret_cast<const char*>(file_->data() + pos + 46);
    e.name.assign(name, name_len);
    CHATTERD_CHECK((flags & 1u) == 0, ModelFormatError, "{}: zip entry '{}' is encrypted", path,
                   e.name);
    // ZIP64 extra field: holds, in this order, exactly those of the three values whose 32-bit
    // field is saturated.
    std::uint64_t x = pos + 46 + name_len;
    const std::uint64_t x_end = x + extra_len;
    while (x + 4 <= x_end) {
      const std::uint16_t id = c.u16(x);
      const std::uint16_t len = c.u16(x + 2);
      CHATTERD_CHECK(x + 4 + len <= x_end, ModelFormatError,
                     "{}: zip entry '{}': extra field runs past its end", path, e.name);
      if (id == 0x0001) {
        std::uint64_t f = x + 4;
        const std::uint64_t f_end = f + len;
        for (std::uint64_t* field : {&e.size, &e.compressed_size, &e.local_header_offset}) {
          if (*field != 0xffffffff) continue;
          CHATTERD_CHECK(f + 8 <= f_end, ModelFormatError,
                         "{}: zip entry '{}': ZIP64 extra field too short", path, e.name);
          *field = c.u64(f);
          f += 8;
        }
      }
      x += 4 + static_cast<std::uint64_t>(len);
    }
    entries_.push_back(std::move(e));
    pos = var_end;
  }
  // Built after entries_ stops growing so the string_views stay valid; first name wins.
  for (std::size_t i = 0; i < entries_.size(); ++i) by_name_.emplace(entries_[i].name, i);
}

const ZipEntry* ZipReader::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::uint64_t ZipReader::data_offset(const ZipEntry& e) const {
  const std::string path = file_->path().string();
  CHATTERD_CHECK(e.method == 0, ModelFormatError,
                 "{}: zip entry '{}' is compressed (method {}); only stored entries are supported",
                 path, e.name, e.method);
  CHATTERD_CHECK(e.compressed_size == e.size, ModelFormatError,
                 "{}: zip entry '{}': stored entry with compressed size {} != size {}", path,
                 e.name, e.compressed_size, e.size);
  const Cursor c(file_->bytes(), path);
  c.check(e.local_header_offset, 30, "local header");
  CHATTERD_CHECK(c.u32(e.local_header_offset) == kLocalSig, ModelFormatError,
                 "{}: zip entry '{}': bad local header signature", path, e.name);
  const std::uint64_t off = e.local_header_offset + 30 + c.u16(e.local_header_offset + 26) +
                            c.u16(e.local_header_offset + 28);
  c.check(off, e.size, ("entry '" + e.name + "' data").c_str());
  return off;
}

std::span<const std::byte> ZipReader::data(const ZipEntry& e) const {
  const std::uint64_t off = data_offset(e);
  return file_->bytes().subspan(static_cast<std::size_t>(off), static_cast<std::size_t>(e.size));
}

}  // namespace chatterd
