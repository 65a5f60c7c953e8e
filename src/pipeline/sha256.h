#pragma once
// SHA-256 (FIPS 180-4) for content keys of the voice cache. Self-contained on purpose: OpenSSL
// and nettle headers exist on the build machine, but linking either would add a dependency to
// the shared build files for ~100 lines of well-specified code; tests check the FIPS vectors.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace chatterd {

class Sha256 {
 public:
  Sha256();
  void update(std::span<const std::byte> bytes);
  void update(std::string_view text);
  // Finishes the hash; the object must not be updated afterwards.
  std::array<std::uint8_t, 32> digest();
  // Lower-case hex of digest().
  std::string hex_digest();

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buf_{};
  std::size_t buf_len_ = 0;
  std::uint64_t total_ = 0;
  bool done_ = false;
};

std::string sha256_hex(std::string_view text);

}  // namespace chatterd
