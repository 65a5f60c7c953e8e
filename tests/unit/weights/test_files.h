#pragma once
// Test support for the reader tests: a temp folder, byte helpers, and writers for hand-built
// safetensors files, zip archives (stored, optional ZIP64 records) and pickle streams.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#ifndef CHATTERD_FIXTURES_DIR
#error "CHATTERD_FIXTURES_DIR must be defined by the build"
#endif

namespace chatterd::testing {

using Bytes = std::vector<std::byte>;

inline std::filesystem::path fixture(std::string_view rel) {
  return std::filesystem::path(CHATTERD_FIXTURES_DIR) / rel;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "chatterd_test_XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline Bytes read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Bytes b(c.size());
  if (!c.empty()) std::memcpy(b.data(), c.data(), c.size());
  return b;
}

inline void write_bytes(const std::filesystem::path& p, const Bytes& b) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

inline void put_le(Bytes& b, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xffu));
}
inline void put_str(Bytes& b, std::string_view s) {
  for (char ch : s) b.push_back(static_cast<std::byte>(ch));
}
template <class T>
Bytes as_bytes(const std::vector<T>& v) {
  Bytes b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// u64-LE header length + header text + data.
inline Bytes make_safetensors(std::string_view header, const Bytes& data) {
  Bytes b;
  put_le(b, header.size(), 8);
  put_str(b, header);
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

// Stored-only zip writer. `align` pads the local extra field so data starts on that boundary
// (torch aligns to 64); `zip64` saturates the 32-bit fields and writes ZIP64 records instead.
class ZipWriter {
 public:
  struct Options {
    std::size_t align = 64;
    bool zip64 = false;
    std::uint16_t method = 0;  // written into both headers (data itself is always raw)
  };
  explicit ZipWriter(Options opt) : opt_(opt) {}
  ZipWriter() : ZipWriter(Options{}) {}

  void add(std::string_view name, const Bytes& data) {
    Entry e{std::string(name), data.size(), out_.size()};
    const std::size_t header_end = out_.size() + 30 + name.size();
    std::size_t pad = 0;
    if (opt_.align > 1) {
      const std::size_t min_pad = 4;  // room for an extra-field header
      pad = (opt_.align - (header_end + min_pad) % opt_.align) % opt_.align + min_pad;
    }
    put_le(out_, 0x04034b50, 4);
    put_le(out_, 20, 2);
    put_le(out_, 0, 2);
    put_le(out_, opt_.method, 2);
    put_le(out_, 0, 4);  // time, date
    put_le(out_, 0, 4);  // crc (not checked by the reader)
    put_le(out_, data.size(), 4);
    put_le(out_, data.size(), 4);
    put_le(out_, name.size(), 2);
    put_le(out_, pad, 2);
    put_str(out_, name);
    if (pad > 0) {
      put_le(out_, 0x6b50, 2);  // an unknown extra id, like torch's "FB" padding
      put_le(out_, pad - 4, 2);
      out_.insert(out_.end(), pad - 4, std::byte{'Z'});
    }
    out_.insert(out_.end(), data.begin(), data.end());
    entries_.push_back(std::move(e));
  }

  Bytes finish() {
    const std::uint64_t cd_offset = out_.size();
    for (const Entry& e : entries_) {
      const std::uint32_t sat = 0xffffffffu;
      put_le(out_, 0x02014b50, 4);
      put_le(out_, 45, 2);
      put_le(out_, 45, 2);
      put_le(out_, 0, 2);
      put_le(out_, opt_.method, 2);
      put_le(out_, 0, 4);
      put_le(out_, 0, 4);
      put_le(out_, opt_.zip64 ? sat : e.size, 4);
      put_le(out_, opt_.zip64 ? sat : e.size, 4);
      put_le(out_, e.name.size(), 2);
      put_le(out_, opt_.zip64 ? 28 : 0, 2);
      put_le(out_, 0, 2);  // comment
      put_le(out_, 0, 2);  // disk
      put_le(out_, 0, 2);
      put_le(out_, 0, 4);
      put_le(out_, opt_.zip64 ? sat : e.offset, 4);
      put_str(out_, e.name);
      if (opt_.zip64) {
        put_le(out_, 1, 2);
        put_le(out_, 24, 2);
        put_le(out_, e.size, 8);
        put_le(out_, e.size, 8);
        put_le(out_, e.offset, 8);
      }
    }
    const std::uint64_t cd_size = out_.size() - cd_offset;
    if (opt_.zip64) {
      const std::uint64_t rec = out_.size();
      put_le(out_, 0x06064b50, 4);
      put_le(out_, 44, 8);
      put_le(out_, 45, 2);
      put_le(out_, 45, 2);
      put_le(out_, 0, 4);
      put_le(out_, 0, 4);
      put_le(out_, entries_.size(), 8);
      put_le(out_, entries_.size(), 8);
      put_le(out_, cd_size, 8);
      put_le(out_, cd_offset, 8);
      put_le(out_, 0x07064b50, 4);
      put_le(out_, 0, 4);
      put_le(out_, rec, 8);
      put_le(out_, 1, 4);
    }
    put_le(out_, 0x06054b50, 4);
    put_le(out_, 0, 4);
    put_le(out_, opt_.zip64 ? 0xffff : entries_.size(), 2);
    put_le(out_, opt_.zip64 ? 0xffff : entries_.size(), 2);
    put_le(out_, opt_.zip64 ? 0xffffffffu : cd_size, 4);
    put_le(out_, opt_.zip64 ? 0xffffffffu : cd_offset, 4);
    put_le(out_, 0, 2);
    return out_;
  }

 private:
  struct Entry {
    std::string name;
    std::uint64_t size;
    std::uint64_t offset;
  };
  Options opt_;
  Bytes out_;
  std::vector<Entry> entries_;
};

// Emits pickle opcodes by hand (protocol 2 style, like torch.save).
class PickleWriter {
 public:
  PickleWriter& op(char c) {
    b_.push_back(static_cast<std::byte>(c));
    return *this;
  }
  PickleWriter& op(unsigned char c) {
    b_.push_back(static_cast<std::byte>(c));
    return *this;
  }
  PickleWriter& proto(int v) { return op(static_cast<unsigned char>(0x80)).raw(v, 1); }
  PickleWriter& raw(std::uint64_t v, int n) {
    put_le(b_, v, n);
    return *this;
  }
  PickleWriter& str(std::string_view s) {
    op('X').raw(s.size(), 4);
    put_str(b_, s);
    return *this;
  }
  PickleWriter& global(std::string_view module, std::string_view name) {
    op('c');
    put_str(b_, module);
    op('\n');
    put_str(b_, name);
    return op('\n');
  }
  PickleWriter& integer(std::int64_t v) {
    if (v >= 0 && v < 256) return op('K').raw(static_cast<std::uint64_t>(v), 1);
    if (v >= 0 && v < 65536) return op('M').raw(static_cast<std::uint64_t>(v), 2);
    return op('J').raw(static_cast<std::uint32_t>(v), 4);
  }
  PickleWriter& ints(const std::vector<std::int64_t>& v) {  // a tuple of ints
    op('(');
    for (std::int64_t x : v) integer(x);
    return op('t');
  }
  // _rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride, False,
  // OrderedDict())
  PickleWriter& tensor(std::string_view storage_type, std::string_view key, std::int64_t numel,
                       std::int64_t offset, const std::vector<std::int64_t>& size,
                       const std::vector<std::int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").op('(');
    op('(').str("storage").global("torch", storage_type).str(key).str("cpu").integer(numel);
    op('t').op('Q');
    integer(offset).ints(size).ints(stride).op(static_cast<unsigned char>(0x89));
    global("collections", "OrderedDict").op(')').op('R');
    return op('t').op('R');
  }
  Bytes bytes() const { return b_; }

 private:
  Bytes b_;
};

}  // namespace chatterd::testing
