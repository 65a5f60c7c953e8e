#include "pipeline/bench_texts.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "core/check.h"

namespace chatterd::bench {
namespace {

constexpr std::array<BenchText, 5> kTexts{{
    {"ultra_short", "Hello there."},
    {"short", "Hi, this is Sarah from customer service. How can I help you today?"},
    {"medium",
     "Thank you for calling. I can see your account here. Let me check the details of your recent "
     "transaction and explain what happened with your payment."},
    {"long",
     "I understand you're concerned about the charges on your account. Let me walk you through "
     "each item on your bill. First, there's your monthly subscription fee, then we have the usage "
     "charges from last month, and finally a small processing fee that applies to all accounts."},
    {"telephony_typical",
     "Hi, this is Alex from Krim AI support. I can see your account details here. Your current "
     "balance is forty-five dollars and thirty-two cents. Would you like me to process a payment "
     "for you today?"},
}};

}  // namespace

std::span<const BenchText> standard_bench_texts() {
  return kTexts;
}

std::vector<BenchText> select_bench_texts(const std::vector<std::string>& names) {
  if (names.empty()) return {kTexts.begin(), kTexts.end()};
  for (const std::string& n : names) {
    const bool known =
        std::any_of(kTexts.begin(), kTexts.end(), [&](const BenchText& t) { return t.name == n; });
    if (!known) {
      std::string list;
      for (const BenchText& t : kTexts) list += (list.empty() ? "" : ", ") + std::string(t.name);
      CHATTERD_THROW(InvalidArgument, "unknown benchmark text '{}' (known: {})", n, list);
    }
  }
  std::vector<BenchText> out;
  for (const BenchText& t : kTexts) {
    if (std::find(names.begin(), names.end(), t.name) != names.end()) out.push_back(t);
  }
  return out;
}

std::int64_t count_words(std::string_view text) {
  std::int64_t words = 0;
  bool in_word = false;
  for (const char c : text) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

std::int64_t fixed_speech_tokens(std::int64_t words) {
  const double n =
      std::round(static_cast<double>(words) / kWordsPerSecond * kSpeechTokensPerSecond);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(n));
}

}  // namespace chatterd::bench
