#include "text/unicode.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <cstdint>

#include "core/check.h"

namespace chatterd::text {

namespace {

UChar32 to_uchar32(char32_t cp) {
  return static_cast<UChar32>(cp);
}

icu::UnicodeString from_utf8(std::string_view utf8) {
  return icu::UnicodeString::fromUTF8(
      icu::StringPiece(utf8.data(), static_cast<int32_t>(utf8.size())));
}

std::string to_utf8(const icu::UnicodeString& s) {
  std::string out;
  s.toUTF8String(out);
  return out;
}

}  // namespace

bool is_letter(char32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return (U_GET_GC_MASK(to_uchar32(cp)) & U_GC_L_MASK) != 0;
}

bool is_number(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return (U_GET_GC_MASK(to_uchar32(cp)) & U_GC_N_MASK) != 0;
}

bool is_regex_word(char32_t cp) {
  if (cp < 0x80) {
    return ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') || (cp >= '0' && cp <= '9') || cp == '_';
  }
  const UChar32 c = to_uchar32(cp);
  constexpr std::uint32_t kMask = U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK;
  return (U_GET_GC_MASK(c) & kMask) != 0 || u_hasBinaryProperty(c, UCHAR_ALPHABETIC) != 0 ||
         u_hasBinaryProperty(c, UCHAR_JOIN_CONTROL) != 0;
}

bool is_unicode_white_space(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= '\t' && cp <= '\r');
  return u_hasBinaryProperty(to_uchar32(cp), UCHAR_WHITE_SPACE) != 0;
}

bool is_py_space(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= '\t' && cp <= '\r') || (cp >= 0x1C && cp <= 0x1F);
  const UChar32 c = to_uchar32(cp);
  if (u_charType(c) == U_SPACE_SEPARATOR) return true;
  const UCharDirection dir = u_charDirection(c);
  return dir == U_WHITE_SPACE_NEUTRAL || dir == U_BLOCK_SEPARATOR || dir == U_SEGMENT_SEPARATOR;
}

bool is_py_lower(char32_t cp) {
  if (cp < 0x80) return cp >= 'a' && cp <= 'z';
  return u_hasBinaryProperty(to_uchar32(cp), UCHAR_LOWERCASE) != 0;
}

std::string to_upper(std::string_view utf8) {
  icu::UnicodeString s = from_utf8(utf8);
  s.toUpper(icu::Locale::getRoot());
  return to_utf8(s);
}

std::string to_lower(std::string_view utf8) {
  icu::UnicodeString s = from_utf8(utf8);
  s.toLower(icu::Locale::getRoot());
  return to_utf8(s);
}

std::string nfkd(std::string_view utf8) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* norm = icu::Normalizer2::getNFKDInstance(status);
  CHATTERD_CHECK(U_SUCCESS(status), Internal, "ICU NFKD normaliser unavailable: {}",
                 u_errorName(status));
  icu::UnicodeString out = norm->normalize(from_utf8(utf8), status);
  CHATTERD_CHECK(U_SUCCESS(status), Internal, "ICU NFKD failed: {}", u_errorName(status));
  return to_utf8(out);
}

}  // namespace chatterd::text
