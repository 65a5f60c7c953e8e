#pragma once
// punc_norm: the reference's punctuation clean-up before tokenisation. Three copies exist in the
// reference (tts_turbo.py, tts.py, mtl_tts.py) and they differ; each flavour reproduces one.

#include <string>
#include <string_view>

namespace chatterd::text {

enum class PuncNormFlavor {
  kTurbo,         // tts_turbo.punc_norm: no "...", " - " or ";" rewrites
  kEnglish,       // tts.punc_norm
  kMultilingual,  // mtl_tts.punc_norm: English rules plus CJK sentence enders
};

// The reference's punc_norm, step for step:
//  1. empty text -> "You need to add some text for me to talk." (we do what the reference does:
//     an empty request speaks that sentence);
//  2. if the first code point is lowercase, replace it by its full upper-case mapping;
//  3. collapse whitespace runs (Python str.split(): Unicode whitespace) to one space, trimming;
//  4. the flavour's replacement list, in order, each applied to the whole string;
//  5. strip trailing ' ', then append '.' unless the text ends with a sentence ender.
// Throws InvalidArgument when `text` is not valid UTF-8.
std::string punc_norm(std::string_view text, PuncNormFlavor flavor);

inline constexpr std::string_view kEmptyTextReplacement =
    "You need to add some text for me to talk.";

}  // namespace chatterd::text
