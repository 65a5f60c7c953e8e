#pragma once
// UTF-8 decoding/encoding. Text enters the engine as UTF-8 bytes from requests; every front-end
// works on code points, so invalid input is rejected once, here, with the offending byte offset.

#include <cstddef>
#include <string>
#include <string_view>

namespace chatterd::text {

// Decodes strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
// Throws InvalidArgument naming the byte offset of the first bad sequence.
std::u32string decode_utf8(std::string_view bytes);

// Returns the byte offset of the first invalid sequence, or npos when `bytes` is valid UTF-8.
std::size_t find_invalid_utf8(std::string_view bytes);

// Throws InvalidArgument (naming `what` and the byte offset) unless `bytes` is valid UTF-8.
void validate_utf8(std::string_view bytes, std::string_view what = "text");

// Appends the UTF-8 encoding of `cp` (must be a scalar value; checked).
void append_utf8(std::string& out, char32_t cp);

std::string encode_utf8(std::u32string_view cps);

// Python's bytes.decode("utf-8", errors="replace"): each maximal invalid subpart becomes U+FFFD.
std::string sanitize_utf8(std::string_view bytes);

// Decodes one code point starting at bytes[pos] of a string already known to be valid UTF-8;
// advances pos. No checks: callers validate first.
inline char32_t next_code_point(std::string_view bytes, std::size_t& pos) {
  const auto b0 = static_cast<unsigned char>(bytes[pos]);
  if (b0 < 0x80) {
    ++pos;
    return b0;
  }
  auto cont = [&](std::size_t i) {
    return static_cast<char32_t>(static_cast<unsigned char>(bytes[pos + i]) & 0x3F);
  };
  char32_t cp;
  if (b0 < 0xE0) {
    cp = (static_cast<char32_t>(b0 & 0x1F) << 6) | cont(1);
    pos += 2;
  } else if (b0 < 0xF0) {
    cp = (static_cast<char32_t>(b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2);
    pos += 3;
  } else {
    cp = (static_cast<char32_t>(b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
    pos += 4;
  }
  return cp;
}

}  // namespace chatterd::text
