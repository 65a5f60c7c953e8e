#include "serving/text_segmenter.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace chatterd::serving {
namespace {

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

// Byte length of a sentence terminator ending at `s[i]` (its last byte), 0 when none.
std::size_t terminator_ending_at(std::string_view s, std::size_t i) {
  const char c = s[i];
  if (c == '.' || c == '!' || c == '?' || c == ';' || c == ':') return 1;
  static constexpr std::array<std::string_view, 3> kCjk{"\u3002", "\uFF01", "\uFF1F"};
  for (std::string_view t : kCjk) {
    if (i + 1 >= t.size() && s.substr(i + 1 - t.size(), t.size()) == t) return t.size();
  }
  return 0;
}

std::string trimmed(std::string_view s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

// Cut point inside buffer[0, limit): after the last whitespace, or `limit` when there is none.
// Never splits a UTF-8 sequence.
std::size_t word_cut(std::string_view buffer, std::size_t limit) {
  for (std::size_t i = limit; i > 0; --i) {
    if (is_space(buffer[i - 1])) return i;
  }
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(buffer[cut]) & 0xC0) == 0x80) --cut;
  return cut > 0 ? cut : limit;
}

}  // namespace

bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), is_space);
}

std::vector<std::string> TextSegmenter::push(std::string_view piece) {
  buffer_.append(piece);
  std::vector<std::string> out;
  std::size_t start = 0;
  const std::string_view b = buffer_;
  for (std::size_t i = 0; i < b.size(); ++i) {
    bool boundary = b[i] == '\n';
    if (!boundary && i + 1 < b.size() && is_space(b[i + 1])) {
      boundary = terminator_ending_at(b, i) > 0;
    }
    if (!boundary && i + 1 - start > max_bytes_) {
      const std::size_t cut = start + word_cut(b.substr(start), max_bytes_);
      std::string seg = trimmed(b.substr(start, cut - start));
      if (!seg.empty()) out.push_back(std::move(seg));
      start = cut;
      continue;
    }
    if (boundary) {
      std::string seg = trimmed(b.substr(start, i + 1 - start));
      if (!seg.empty()) out.push_back(std::move(seg));
      start = i + 1;
    }
  }
  buffer_.erase(0, start);
  return out;
}

std::string TextSegmenter::flush() {
  std::string seg = trimmed(buffer_);
  buffer_.clear();
  return seg;
}

}  // namespace chatterd::serving
