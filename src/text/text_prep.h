#pragma once
// The exact strings the reference hands to the English and multilingual tokenizers (their vocab
// files are not available here, so encoding stops at the tokenizer's input).

#include <string>
#include <string_view>

#include "text/language.h"

namespace chatterd::text {

// The literal the reference substitutes for every ' ' before BPE.
inline constexpr std::string_view kSpaceToken = "[SPACE]";

// tts.punc_norm, then EnTokenizer.encode's ' ' -> "[SPACE]".
std::string english_encode_input(std::string_view raw_text);

// mtl_tts.punc_norm, then MTLTokenizer.encode's preprocessing: lower(), NFKD, the language
// front-end, the "[<lang>]" prefix, then ' ' -> "[SPACE]".
// Language front-ends: only "ko" (Hangul syllable -> Jamo, then strip) is done; zh (Cangjie),
// ja (pykakasi hiragana), he (diacritics) and ru (stress marks) are NOT implemented: those texts
// pass through unchanged, which is also what the reference does when their optional packages are
// missing, except zh/ja whose packages the reference requires.
std::string multilingual_encode_input(std::string_view raw_text, Language language);

}  // namespace chatterd::text
