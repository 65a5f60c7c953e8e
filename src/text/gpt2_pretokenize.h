#pragma once
// GPT-2's pre-tokenisation regex, hand-written (std::regex is slow and has no Unicode classes):
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// with the `regex` module's semantics: alternatives tried in order at each position, \s is the
// Unicode White_Space property, the optional prefix is U+0020 only.

#include <string_view>
#include <vector>

namespace chatterd::text {

// Appends the pieces of `text` (valid UTF-8, unchecked) to `out`; they cover `text` exactly.
void gpt2_pretokenize(std::string_view text, std::vector<std::string_view>& out);

}  // namespace chatterd::text
