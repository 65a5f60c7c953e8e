#include "text/utf8.h"

#include "core/check.h"

namespace chatterd::text {

namespace {

// Bytes at bytes[pos] forming a valid sequence (`valid`), or else the length of the maximal
// invalid subpart (at least 1).
struct SequenceCheck {
  bool valid;
  std::size_t length;
};

SequenceCheck check_sequence(std::string_view bytes, std::size_t pos) {
  const auto b0 = static_cast<unsigned char>(bytes[pos]);
  if (b0 < 0x80) return {true, 1};
  std::size_t len;
  unsigned char lo = 0x80,
                hi = 0xBF;  // allowed range of the second byte (rules out overlongs etc.)
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // > U+10FFFF
  } else {
    return {false, 1};
  }
  for (std::size_t i = 1; i < len; ++i) {
    if (pos + i >= bytes.size()) return {false, i};
    const auto b = static_cast<unsigned char>(bytes[pos + i]);
    const unsigned char min = i == 1 ? lo : 0x80;
    const unsigned char max = i == 1 ? hi : 0xBF;
    if (b < min || b > max) return {false, i};
  }
  return {true, len};
}

}  // namespace

std::size_t find_invalid_utf8(std::string_view bytes) {
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    // ASCII fast path: most TTS text is ASCII.
    if (static_cast<unsigned char>(bytes[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const SequenceCheck c = check_sequence(bytes, pos);
    if (!c.valid) return pos;
    pos += c.length;
  }
  return std::string_view::npos;
}

void validate_utf8(std::string_view bytes, std::string_view what) {
  const std::size_t bad = find_invalid_utf8(bytes);
  CHATTERD_CHECK(bad == std::string_view::npos, InvalidArgument,
                 "{} is not valid UTF-8: bad byte 0x{:02X} at byte offset {}", what,
                 static_cast<unsigned char>(bytes[bad]), bad);
}

std::u32string decode_utf8(std::string_view bytes) {
  validate_utf8(bytes);
  std::u32string out;
  out.reserve(bytes.size());
  std::size_t pos = 0;
  while (pos < bytes.size()) out.push_back(next_code_point(bytes, pos));
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  CHATTERD_CHECK(cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF), InvalidArgument,
                 "U+{:04X} is not a Unicode scalar value", static_cast<std::uint32_t>(cp));
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) append_utf8(out, cp);
  return out;
}

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const SequenceCheck c = check_sequence(bytes, pos);
    if (c.valid) {
      out.append(bytes.substr(pos, c.length));
    } else {
      out.append("\uFFFD");
    }
    pos += c.length;
  }
  return out;
}

}  // namespace chatterd::text
