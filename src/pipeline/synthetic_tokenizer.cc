#include "pipeline/synthetic_tokenizer.h"

#include <string>
#include <utility>
#include <vector>

#include "core/check.h"
#include "text/utf8.h"

namespace chatterd {
namespace {

std::string byte_symbol(char c) {
  std::string s;
  text::append_utf8(s, text::gpt2_byte_to_unicode(static_cast<std::uint8_t>(c)));
  return s;
}

}  // namespace

text::Gpt2Tokenizer synthetic_gpt2_tokenizer(std::int64_t vocab_size) {
  text::Gpt2TokenizerFiles files;
  for (int b = 0; b < 256; ++b) files.vocab.emplace(byte_symbol(static_cast<char>(b)), b);
  std::vector<std::string> letters;
  std::vector<std::string> lower;
  for (char c = 'a'; c <= 'z'; ++c) letters.emplace_back(1, c);
  lower = letters;
  for (char c = 'A'; c <= 'Z'; ++c) letters.emplace_back(1, c);
  const std::string space = byte_symbol(' ');  // "Ġ"
  std::int32_t next = 256;
  auto merge = [&](const std::string& a, const std::string& b) {
    files.merges.emplace_back(a, b);
    files.vocab.emplace(a + b, next++);
  };
  // In rank order: a word's start first (a space joins the letter after it, then up to two
  // more), then letters inside a word pair up and lower-case pairs take a third.
  for (const auto& a : letters) merge(space, a);
  for (const auto& a : letters) {
    for (const auto& b : letters) merge(space + a, b);
  }
  for (const auto& a : lower) {
    for (const auto& b : lower) {
      for (const auto& c : lower) merge(space + a + b, c);
    }
  }
  for (const auto& a : letters) {
    for (const auto& b : letters) merge(a, b);
  }
  for (const auto& a : lower) {
    for (const auto& b : lower) {
      for (const auto& c : lower) merge(a + b, c);
    }
  }
  CHATTERD_CHECK(next <= vocab_size, InvalidArgument,
                 "synthetic tokenizer: {} pieces do not fit a vocabulary of {}", next, vocab_size);
  for (std::int64_t id = next; id < vocab_size; ++id) {
    files.vocab.emplace("<synthetic_" + std::to_string(id) + ">", static_cast<std::int32_t>(id));
  }
  files.model_max_length = 1024;
  return text::Gpt2Tokenizer(std::move(files));
}

}  // namespace chatterd
