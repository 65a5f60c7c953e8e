#include "text/language.h"

#include "core/check.h"

namespace chatterd::text {

std::string supported_language_codes() {
  std::string s;
  for (const LanguageInfo& l : kLanguages) {
    if (!s.empty()) s.push_back(' ');
    s.append(l.code);
  }
  return s;
}

Language Language::parse(std::string_view code) {
  if (code.size() == 2) {
    std::string lower(code);
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    for (const LanguageInfo& l : kLanguages) {
      if (l.code == lower) return Language(l);
    }
  }
  CHATTERD_THROW(InvalidArgument, "unsupported language '{}': expected one of {}", code,
                 supported_language_codes());
}

}  // namespace chatterd::text
