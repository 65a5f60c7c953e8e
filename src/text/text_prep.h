#pragma once
// The exact strings the reference hands to the English and multilingual tokenizers
// (EnTokenizer.encode / MTLTokenizer.encode before `tokenizers` runs).

#include <string>
#include <string_view>

#include "text/language.h"

namespace chatterd::text {

// The literal the reference substitutes for every ' ' before BPE.
inline constexpr std::string_view kSpaceToken = "[SPACE]";

// tts.punc_norm, then EnTokenizer.encode's ' ' -> "[SPACE]".
std::string english_encode_input(std::string_view raw_text);
// The same without punc_norm (for text already normalised, e.g. one sentence of it).
std::string english_tokenizer_input(std::string_view normalized);

// mtl_tts.punc_norm, then MTLTokenizer.encode's preprocessing: lower(), NFKD, the language
// front-end, the "[<lang>]" prefix, then ' ' -> "[SPACE]".
// Language front-ends (see LanguageInfo in language.h): ko exact (Hangul syllable -> Jamo, then
// strip); he and ru skipped, as the reference does without its optional packages; ja exact for
// text without kanji, kanji refused; zh refused. Refusals throw Unsupported:
// "language ja (Japanese) needs ...".
std::string multilingual_encode_input(std::string_view raw_text, Language language);
// The same without punc_norm.
std::string multilingual_tokenizer_input(std::string_view normalized, Language language);

}  // namespace chatterd::text
