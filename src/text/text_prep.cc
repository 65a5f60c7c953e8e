#include "text/text_prep.h"

#include <fmt/format.h>

#include "core/check.h"
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

// tokenizer.is_kanji: the CJK Unified Ideographs block the reference tests.
bool is_kanji(char32_t cp) {
  return cp >= 0x4E00 && cp <= 0x9FFF;
}

[[noreturn]] void refuse(Language language, std::string_view detail) {
  const LanguageInfo& l = language.info();
  CHATTERD_THROW(Unsupported, "language {} ({}) needs {}{}", l.code, l.name, l.needs, detail);
}

}  // namespace

std::string english_tokenizer_input(std::string_view normalized) {
  return replace_spaces(normalized);
}

std::string english_encode_input(std::string_view raw_text) {
  return english_tokenizer_input(punc_norm(raw_text, PuncNormFlavor::kEnglish));
}

std::string multilingual_encode_input(std::string_view raw_text, Language language) {
  return multilingual_tokenizer_input(punc_norm(raw_text, PuncNormFlavor::kMultilingual), language);
}

std::string multilingual_tokenizer_input(std::string_view normalized, Language language) {
  std::string s = nfkd(to_lower(normalized));
  switch (language.info().front_end) {
    case LanguageFrontEnd::kKorean:
      s = korean_normalize(s);
      break;
    case LanguageFrontEnd::kJapanese: {
      // pykakasi rewrites only phrases that hold kanji; the rest keeps its original characters,
      // and the final NFKD is a no-op on NFKD text. So kanji-free text is exact.
      std::size_t pos = 0;
      while (pos < s.size()) {
        const char32_t cp = next_code_point(s, pos);
        if (is_kanji(cp)) {
          std::string detail =
              fmt::format(" to read kanji U+{:04X} '", static_cast<std::uint32_t>(cp));
          append_utf8(detail, cp);
          detail += "' (kana-only text works)";
          refuse(language, detail);
        }
      }
      break;
    }
    case LanguageFrontEnd::kChinese:
      refuse(language, "");
    case LanguageFrontEnd::kHebrew:   // dicta_onnx is not a dependency of the reference
    case LanguageFrontEnd::kRussian:  // neither is russian_text_stresser
    case LanguageFrontEnd::kNone:
      break;
  }
  std::string tagged = "[";
  tagged.append(language.code());
  tagged.push_back(']');
  tagged.append(s);
  return replace_spaces(tagged);
}

}  // namespace chatterd::text
