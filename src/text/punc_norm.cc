#include "text/punc_norm.h"

#include <array>
#include <span>
#include <utility>

#include "text/unicode.h"
#include "text/utf8.h"

namespace chatterd::text {

namespace {

using Replacement = std::pair<std::string_view, std::string_view>;

// The reference lists, verbatim and in order (order matters: "..." must go before " ,").
constexpr std::array<Replacement, 12> kEnglishReplacements{{
    {"...", ", "},
    {"\u2026", ", "},  // …
    {":", ","},
    {" - ", ", "},
    {";", ", "},
    {"\u2014", "-"},  // —
    {"\u2013", "-"},  // –
    {" ,", ","},
    {"\u201C", "\""},  // “
    {"\u201D", "\""},  // ”
    {"\u2018", "'"},   // ‘
    {"\u2019", "'"},   // ’
}};

constexpr std::array<Replacement, 9> kTurboReplacements{{
    {"\u2026", ", "},
    {":", ","},
    {"\u2014", "-"},
    {"\u2013", "-"},
    {" ,", ","},
    {"\u201C", "\""},
    {"\u201D", "\""},
    {"\u2018", "'"},
    {"\u2019", "'"},
}};

constexpr std::array<std::string_view, 5> kEnders{".", "!", "?", "-", ","};
constexpr std::array<std::string_view, 10> kMultilingualEnders{
    ".", "!", "?", "-", ",", "\u3001", "\uFF0C", "\u3002", "\uFF1F", "\uFF01"};  // 、 ， 。 ？ ！

// Python str.replace: non-overlapping, left to right.
void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::size_t pos = s.find(from);
  if (pos == std::string::npos) return;
  std::string out;
  out.reserve(s.size());
  std::size_t start = 0;
  while (pos != std::string::npos) {
    out.append(s, start, pos - start);
    out.append(to);
    start = pos + from.size();
    pos = s.find(from, start);
  }
  out.append(s, start, std::string::npos);
  s = std::move(out);
}

// " ".join(text.split())
std::string collapse_whitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  bool pending_space = false;
  while (pos < text.size()) {
    const std::size_t start = pos;
    const char32_t cp = next_code_point(text, pos);
    if (is_py_space(cp)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.append(text.substr(start, pos - start));
  }
  return out;
}

bool ends_with_any(std::string_view s, std::span<const std::string_view> suffixes) {
  for (std::string_view e : suffixes) {
    if (s.ends_with(e)) return true;
  }
  return false;
}

}  // namespace

std::string punc_norm(std::string_view text, PuncNormFlavor flavor) {
  validate_utf8(text);
  if (text.empty()) return std::string(kEmptyTextReplacement);

  std::string capitalised;
  std::size_t first_len = 0;
  const char32_t first = next_code_point(text, first_len);
  if (is_py_lower(first)) {
    capitalised = to_upper(text.substr(0, first_len));
    capitalised.append(text.substr(first_len));
    text = capitalised;
  }

  std::string s = collapse_whitespace(text);

  const std::span<const Replacement> replacements =
      flavor == PuncNormFlavor::kTurbo ? std::span<const Replacement>(kTurboReplacements)
                                       : std::span<const Replacement>(kEnglishReplacements);
  for (const auto& [from, to] : replacements) replace_all(s, from, to);

  while (!s.empty() && s.back() == ' ') s.pop_back();
  const std::span<const std::string_view> enders =
      flavor == PuncNormFlavor::kMultilingual
          ? std::span<const std::string_view>(kMultilingualEnders)
          : std::span<const std::string_view>(kEnders);
  if (!ends_with_any(s, enders)) s.push_back('.');
  return s;
}

}  // namespace chatterd::text
