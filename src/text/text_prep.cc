#include "text/text_prep.h"

#include "text/punc_norm.h"
#include "text/unicode.h"
#include "text/utf8.h"

namespace chatterd::text {

namespace {

std::string replace_spaces(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 2);
  for (char c : s) {
    if (c == ' ') {
      out.append(kSpaceToken);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// tokenizer.korean_normalize: arithmetic decomposition of U+AC00..U+D7AF, then str.strip().
// After NFKD the syllables are already decomposed; kept for the few code points NFKD leaves alone.
std::string korean_normalize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t pos = 0;
  while (pos < s.size()) {
    const std::size_t start = pos;
    const char32_t cp = next_code_point(s, pos);
    if (cp >= 0xAC00 && cp <= 0xD7AF) {
      const char32_t base = cp - 0xAC00;
      append_utf8(out, 0x1100 + base / (21 * 28));
      append_utf8(out, 0x1161 + (base % (21 * 28)) / 28);
      if (base % 28 > 0) append_utf8(out, 0x11A7 + base % 28);
    } else {
      out.append(s.substr(start, pos - start));
    }
  }
  // strip(): leading and trailing Python whitespace.
  std::size_t begin = 0;
  while (begin < out.size()) {
    std::size_t p = begin;
    if (!is_py_space(next_code_point(out, p))) break;
    begin = p;
  }
  std::size_t end = begin;
  pos = begin;
  while (pos < out.size()) {
    if (!is_py_space(next_code_point(out, pos))) end = pos;
  }
  return out.substr(begin, end - begin);
}

}  // namespace

std::string english_encode_input(std::string_view raw_text) {
  return replace_spaces(punc_norm(raw_text, PuncNormFlavor::kEnglish));
}

std::string multilingual_encode_input(std::string_view raw_text, Language language) {
  std::string s = nfkd(to_lower(punc_norm(raw_text, PuncNormFlavor::kMultilingual)));
  if (language.code() == "ko") s = korean_normalize(s);
  std::string tagged = "[";
  tagged.append(language.code());
  tagged.push_back(']');
  tagged.append(s);
  return replace_spaces(tagged);
}

}  // namespace chatterd::text
