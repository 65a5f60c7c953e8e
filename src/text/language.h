#pragma once
// The languages of the multilingual model (mtl_tts.SUPPORTED_LANGUAGES) as a typed table, with
// the per-language text front-end the reference's MTLTokenizer applies and how far we follow it.

#include <array>
#include <string>
#include <string_view>

namespace chatterd::text {

// MTLTokenizer.encode's language-specific step (after lower() + NFKD).
enum class LanguageFrontEnd {
  kNone,      // nothing
  kKorean,    // korean_normalize: Hangul syllables -> conjoining Jamo (arithmetic), strip()
  kJapanese,  // hiragana_normalize: pykakasi kanji -> hiragana (katakana/kana unchanged)
  kChinese,   // ChineseCangjieConverter: pkuseg word segmentation + Cangjie5_TC.json codes
  kHebrew,    // add_hebrew_diacritics: dicta_onnx (optional in the reference: skipped if absent)
  kRussian,   // add_russian_stress: russian_text_stresser (optional: skipped if absent)
};

// How our front-end relates to the reference's.
enum class FrontEndSupport {
  kExact,        // same output as the reference
  kAsReference,  // the reference skips this step unless an optional package (not one of its
                 // dependencies) is installed; we skip it too, so we match its default install
  kPartial,      // exact for some texts; the others are refused (Unsupported, naming the need)
  kRefused,      // needs a model/library we do not have: every text is refused
};

struct LanguageInfo {
  std::string_view code;  // ISO 639-1, lower case; the tokenizer tag is "[<code>]"
  std::string_view name;
  LanguageFrontEnd front_end = LanguageFrontEnd::kNone;
  FrontEndSupport support = FrontEndSupport::kExact;
  std::string_view needs;  // what the refused part needs (empty when nothing is refused)
};

inline constexpr std::array<LanguageInfo, 23> kLanguages{{
    {"ar", "Arabic"},
    {"da", "Danish"},
    {"de", "German"},
    {"el", "Greek"},
    {"en", "English"},
    {"es", "Spanish"},
    {"fi", "Finnish"},
    {"fr", "French"},
    {"he", "Hebrew", LanguageFrontEnd::kHebrew, FrontEndSupport::kAsReference, {}},
    {"hi", "Hindi"},
    {"it", "Italian"},
    {"ja", "Japanese", LanguageFrontEnd::kJapanese, FrontEndSupport::kPartial,
     "a kanji-to-hiragana reading converter (pykakasi in the reference)"},
    {"ko", "Korean", LanguageFrontEnd::kKorean, FrontEndSupport::kExact, {}},
    {"ms", "Malay"},
    {"nl", "Dutch"},
    {"no", "Norwegian"},
    {"pl", "Polish"},
    {"pt", "Portuguese"},
    {"ru", "Russian", LanguageFrontEnd::kRussian, FrontEndSupport::kAsReference, {}},
    {"sv", "Swedish"},
    {"sw", "Swahili"},
    {"tr", "Turkish"},
    {"zh", "Chinese", LanguageFrontEnd::kChinese, FrontEndSupport::kRefused,
     "the pkuseg word segmenter and the Cangjie5_TC.json glyph table (not implemented)"},
}};

// The codes of kLanguages, space-separated ("ar da de ...").
std::string supported_language_codes();

// A validated, lower-case language code. Construct with Language::parse.
class Language {
 public:
  // Accepts any ASCII case ("EN" -> "en", as the reference lower()s the id); throws
  // InvalidArgument naming the code and listing the supported ones otherwise.
  static Language parse(std::string_view code);

  std::string_view code() const { return info_->code; }
  const LanguageInfo& info() const { return *info_; }
  bool operator==(const Language& other) const { return info_ == other.info_; }

 private:
  explicit Language(const LanguageInfo& info) : info_(&info) {}
  const LanguageInfo* info_;  // points into kLanguages
};

}  // namespace chatterd::text
