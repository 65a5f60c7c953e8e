#pragma once
// The five standard benchmark texts (design.md "Benchmark texts"), always these for comparable
// numbers, and the fixed speech-token count a synthetic model generates for each.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chatterd::bench {

struct BenchText {
  std::string_view name;  // "ultra_short", "short", "medium", "long", "telephony_typical"
  std::string_view text;
};

// In the design doc's order.
std::span<const BenchText> standard_bench_texts();

// `names` empty: all five. Otherwise those named, in the standard order, each at most once.
// Throws InvalidArgument for an unknown name (listing the known ones).
std::vector<BenchText> select_bench_texts(const std::vector<std::string>& names);

// Whitespace-separated words.
std::int64_t count_words(std::string_view text);

// Speech tokens a synthetic model is made to generate for `words` words: 2.6 words per second of
// speech at 25 tokens per second, N = round(words / 2.6 * 25); at least 1.
std::int64_t fixed_speech_tokens(std::int64_t words);

inline constexpr double kWordsPerSecond = 2.6;
inline constexpr double kSpeechTokensPerSecond = 25.0;

}  // namespace chatterd::bench
