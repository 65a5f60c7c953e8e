#include "text/language.h"

#include <fmt/ranges.h>

#include "core/check.h"

namespace chatterd::text {

Language Language::parse(std::string_view code) {
  if (code.size() == 2) {
    std::string lower(code);
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    for (std::string_view supported : kSupportedLanguages) {
      if (supported == lower) return Language(supported);
    }
  }
  CHATTERD_THROW(InvalidArgument, "unsupported language '{}': expected one of {}", code,
                 fmt::join(kSupportedLanguages, " "));
}

}  // namespace chatterd::text
