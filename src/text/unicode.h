#pragma once
// Unicode character properties and string transforms with Python's semantics (the reference
// front-ends are Python), backed by ICU. Strings are UTF-8 and must already be valid.

#include <string>
#include <string_view>

namespace chatterd::text {

// General category L* (regex \p{L}).
bool is_letter(char32_t cp);
// General category N* (regex \p{N}).
bool is_number(char32_t cp);
// Rust regex's Unicode \w (UTS #18 Annex C: Alphabetic, marks, decimal digits, connector
// punctuation, Join_Control): the Hugging Face `tokenizers` Whitespace pre-tokenizer's \w.
bool is_regex_word(char32_t cp);
// Unicode White_Space: what the `regex` module's \s matches (GPT-2 pre-tokenisation).
bool is_unicode_white_space(char32_t cp);
// Python str.isspace(): category Zs or bidi class WS, B or S (a superset of White_Space that also
// holds U+001C..U+001F). This is what str.split() splits on.
bool is_py_space(char32_t cp);
// Python str.islower() of a single character: the Lowercase property.
bool is_py_lower(char32_t cp);

// Full (multi-character) case mappings, locale-independent, like Python's str.upper()/lower()
// (e.g. "ß" -> "SS", final sigma handled by lower()).
std::string to_upper(std::string_view utf8);
std::string to_lower(std::string_view utf8);
// Unicode compatibility decomposition (unicodedata.normalize("NFKD", s)).
std::string nfkd(std::string_view utf8);

}  // namespace chatterd::text
