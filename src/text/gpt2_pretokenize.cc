#include "text/gpt2_pretokenize.h"

#include "text/unicode.h"
#include "text/utf8.h"

namespace chatterd::text {

namespace {

enum class CharClass { kLetter, kNumber, kSpace, kOther, kEnd };

CharClass classify(char32_t cp) {
  if (is_letter(cp)) return CharClass::kLetter;
  if (is_number(cp)) return CharClass::kNumber;
  if (is_unicode_white_space(cp)) return CharClass::kSpace;
  return CharClass::kOther;
}

// Cursor over code points with one-code-point lookahead.
struct Peek {
  CharClass cls;
  char32_t cp;
  std::size_t next;  // byte offset after this code point
};

Peek peek(std::string_view text, std::size_t pos) {
  if (pos >= text.size()) return {CharClass::kEnd, 0, pos};
  std::size_t next = pos;
  const char32_t cp = next_code_point(text, next);
  return {classify(cp), cp, next};
}

// Byte offset after the run of code points of class `cls` starting at `pos`.
std::size_t skip_run(std::string_view text, std::size_t pos, CharClass cls) {
  while (true) {
    const Peek p = peek(text, pos);
    if (p.cls != cls) return pos;
    pos = p.next;
  }
}

// Length of a contraction ('s 't 're 've 'm 'll 'd) at `pos`, or 0.
std::size_t contraction_length(std::string_view text, std::size_t pos) {
  if (text[pos] != '\'' || pos + 1 >= text.size()) return 0;
  const char c1 = text[pos + 1];
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (pos + 2 >= text.size()) return 0;
  const char c2 = text[pos + 2];
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
  return 0;
}

}  // namespace

void gpt2_pretokenize(std::string_view text, std::vector<std::string_view>& out) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t start = pos;
    if (const std::size_t n = contraction_length(text, pos); n > 0) {
      out.push_back(text.substr(start, n));
      pos += n;
      continue;
    }
    Peek cur = peek(text, pos);
    // " ?X+" for X in {letter, number, other}: an optional U+0020 then a run of one class.
    Peek body = cur;
    if (cur.cp == ' ') body = peek(text, cur.next);
    if (body.cls == CharClass::kLetter || body.cls == CharClass::kNumber ||
        body.cls == CharClass::kOther) {
      pos = skip_run(text, body.next, body.cls);
      out.push_back(text.substr(start, pos - start));
      continue;
    }
    // Whitespace: "\s+(?!\S)" takes the run but leaves its last char when a non-space follows
    // (so that char can prefix the next word); "\s+" catches a lone space before a non-space.
    std::size_t end = cur.next;
    std::size_t last_start = start;
    while (true) {
      const Peek p = peek(text, end);
      if (p.cls != CharClass::kSpace) break;
      last_start = end;
      end = p.next;
    }
    if (end < text.size() && last_start > start) end = last_start;
    out.push_back(text.substr(start, end - start));
    pos = end;
  }
}

}  // namespace chatterd::text
