#pragma once
// Language codes accepted by the multilingual model (mtl_tts.SUPPORTED_LANGUAGES).

#include <array>
#include <string>
#include <string_view>

namespace chatterd::text {

inline constexpr std::array<std::string_view, 23> kSupportedLanguages{
    "ar", "da", "de", "el", "en", "es", "fi", "fr", "he", "hi", "it", "ja",
    "ko", "ms", "nl", "no", "pl", "pt", "ru", "sv", "sw", "tr", "zh"};

// A validated, lower-case language code. Construct with Language::parse.
class Language {
 public:
  // Accepts any ASCII case ("EN" -> "en", as the reference lower()s the id); throws
  // InvalidArgument listing the supported codes otherwise.
  static Language parse(std::string_view code);

  std::string_view code() const { return code_; }
  bool operator==(const Language&) const = default;

 private:
  explicit Language(std::string_view code) : code_(code) {}
  std::string_view code_;  // points into kSupportedLanguages
};

}  // namespace chatterd::text
