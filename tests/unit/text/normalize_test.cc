#include <gtest/gtest.h>

#include <string>

#include "chatterd/core/error.h"
#include "golden_util.h"
#include "text/language.h"
#include "text/punc_norm.h"
#include "text/text_prep.h"
#include "text/unicode.h"
#include "text/utf8.h"

namespace chatterd::text {
namespace {

using testing::tokenizer_golden;

TEST(PuncNorm, GoldenAllFlavours) {
  const auto& entries = tokenizer_golden().at("entries");
  ASSERT_GE(entries.size(), 10u);
  for (const auto& e : entries) {
    const std::string text = e.at("text");
    SCOPED_TRACE(e.at("name").get<std::string>());
    EXPECT_EQ(punc_norm(text, PuncNormFlavor::kTurbo),
              e.at("turbo").at("normalized").get<std::string>());
    EXPECT_EQ(punc_norm(text, PuncNormFlavor::kEnglish),
              e.at("english").at("normalized").get<std::string>());
    EXPECT_EQ(punc_norm(text, PuncNormFlavor::kMultilingual),
              e.at("multilingual_en").at("normalized").get<std::string>());
  }
}

TEST(TextPrep, GoldenEncodeInputs) {
  const Language en = Language::parse("en");
  for (const auto& e : tokenizer_golden().at("entries")) {
    const std::string text = e.at("text");
    SCOPED_TRACE(e.at("name").get<std::string>());
    EXPECT_EQ(english_encode_input(text), e.at("english").at("encode_input").get<std::string>());
    EXPECT_EQ(multilingual_encode_input(text, en),
              e.at("multilingual_en").at("encode_input").get<std::string>());
  }
}

TEST(PuncNorm, ReferenceEdgeCases) {
  // Empty text speaks the reference's fixed sentence.
  EXPECT_EQ(punc_norm("", PuncNormFlavor::kTurbo), std::string(kEmptyTextReplacement));
  // Whitespace-only text is not empty: it collapses to "" and gets the full stop.
  EXPECT_EQ(punc_norm(" \t ", PuncNormFlavor::kEnglish), ".");
  // Full upper-case mapping of the first character (Python "ß".upper() == "SS").
  EXPECT_EQ(punc_norm("\u00DFtra\u00DFe", PuncNormFlavor::kTurbo), "SStra\u00DFe.");
  EXPECT_EQ(punc_norm("\u00E9t\u00E9", PuncNormFlavor::kTurbo), "\u00C9t\u00E9.");
  // Capitalisation happens before whitespace collapsing, as in the reference.
  EXPECT_EQ(punc_norm("  hello", PuncNormFlavor::kTurbo), "hello.");
  // Unicode whitespace (NBSP, ideographic space, U+001F) splits like Python's str.split().
  EXPECT_EQ(punc_norm("A\u00A0\u3000b\x1f"
                      "c",
                      PuncNormFlavor::kTurbo),
            "A b c.");
  // Sentence enders.
  EXPECT_EQ(punc_norm("Really?", PuncNormFlavor::kEnglish), "Really?");
  EXPECT_EQ(punc_norm("\u4F60\u597D\u3002", PuncNormFlavor::kMultilingual), "\u4F60\u597D\u3002");
  EXPECT_EQ(punc_norm("\u4F60\u597D\u3002", PuncNormFlavor::kEnglish), "\u4F60\u597D\u3002.");
  // Order of the replacement list: "..." -> ", " runs before " ," -> ",".
  EXPECT_EQ(punc_norm("Wait ... what", PuncNormFlavor::kEnglish), "Wait,  what.");
  EXPECT_EQ(punc_norm("Wait ... what", PuncNormFlavor::kTurbo), "Wait ... what.");
  EXPECT_EQ(punc_norm("A \u2014 b", PuncNormFlavor::kTurbo), "A - b.");
}

TEST(PuncNorm, RejectsInvalidUtf8) {
  EXPECT_THROW(punc_norm("ab\xff", PuncNormFlavor::kTurbo), InvalidArgument);
}

TEST(TextPrep, MultilingualLowerAndNfkd) {
  const Language fr = Language::parse("fr");
  // lower() undoes punc_norm's capitalisation; NFKD decomposes accents and compatibility forms.
  EXPECT_EQ(multilingual_encode_input("\u00C9COLE \uFB01n", fr), "[fr]e\u0301cole[SPACE]fin.");
  // Final sigma: Python's lower() gives "ς" at the end of a word.
  EXPECT_EQ(multilingual_encode_input("\u039F\u0394\u039F\u03A3", Language::parse("el")),
            "[el]\u03BF\u03B4\u03BF\u03C2.");
  // Korean: Jamo decomposition (NFKD already does it) and strip().
  EXPECT_EQ(multilingual_encode_input("\uD55C", Language::parse("ko")), "[ko]\u1112\u1161\u11AB.");
}

TEST(TextPrep, LanguageFrontEnds) {
  // Japanese without kanji: pykakasi keeps kana as they are, so the output is exact (NFKD splits
  // the voiced mark of "ga" into U+304B U+3099 as the reference's preprocess does).
  EXPECT_EQ(multilingual_encode_input("\u304C\u30AB", Language::parse("ja")),
            "[ja]\u304B\u3099\u30AB.");
  // Kanji need a reading converter we do not have.
  try {
    multilingual_encode_input("\u65E5\u672C", Language::parse("ja"));
    FAIL();
  } catch (const Unsupported& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("language ja (Japanese) needs"), std::string::npos) << msg;
    EXPECT_NE(msg.find("pykakasi"), std::string::npos) << msg;
    EXPECT_NE(msg.find("U+65E5"), std::string::npos) << msg;
  }
  // Chinese needs pkuseg + the Cangjie table: refused, even for text without Han characters.
  try {
    multilingual_encode_input("\u4F60\u597D", Language::parse("zh"));
    FAIL();
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("language zh (Chinese) needs"), std::string::npos);
  }
  EXPECT_THROW(multilingual_encode_input("abc", Language::parse("zh")), Unsupported);
  // Hebrew and Russian: the reference skips diacritics/stress without its optional packages.
  EXPECT_EQ(multilingual_encode_input("\u05E9\u05DC\u05D5\u05DD", Language::parse("he")),
            "[he]\u05E9\u05DC\u05D5\u05DD.");
  EXPECT_EQ(multilingual_encode_input("\u041F\u0440\u0438\u0432\u0435\u0442 \u043C\u0438\u0440",
                                      Language::parse("ru")),
            "[ru]\u043F\u0440\u0438\u0432\u0435\u0442[SPACE]\u043C\u0438\u0440.");
  // Korean multi-syllable: initial + medial (+ final) Jamo per syllable.
  EXPECT_EQ(multilingual_encode_input("\uD55C\uAD6D\uC5B4", Language::parse("ko")),
            "[ko]\u1112\u1161\u11AB\u1100\u116E\u11A8\u110B\u1165.");
}

TEST(Language, ParseAndValidate) {
  EXPECT_EQ(Language::parse("en").code(), "en");
  EXPECT_EQ(Language::parse("ZH").code(), "zh");
  for (const LanguageInfo& l : kLanguages) {
    EXPECT_EQ(Language::parse(l.code).code(), l.code);
    EXPECT_EQ(&Language::parse(l.code).info(), &l);
    // Whatever is refused says what it needs.
    EXPECT_EQ(l.support == FrontEndSupport::kPartial || l.support == FrontEndSupport::kRefused,
              !l.needs.empty())
        << l.code;
  }
  EXPECT_EQ(supported_language_codes().size(), 23u * 3 - 1);
  EXPECT_THROW(Language::parse("xx"), InvalidArgument);
  EXPECT_THROW(Language::parse(""), InvalidArgument);
  EXPECT_THROW(Language::parse("eng"), InvalidArgument);
  try {
    Language::parse("klingon");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("klingon"), std::string::npos);
  }
}

TEST(Utf8, RoundTripAndErrors) {
  const std::string s = "a\u00E9\u20AC\U0001F602";
  const std::u32string cps = decode_utf8(s);
  EXPECT_EQ(cps, std::u32string(U"a\u00E9\u20AC\U0001F602"));
  EXPECT_EQ(encode_utf8(cps), s);
  EXPECT_EQ(find_invalid_utf8(s), std::string::npos);
  EXPECT_EQ(find_invalid_utf8("ab\xC3"), 2u);              // truncated
  EXPECT_EQ(find_invalid_utf8("\xC0\xAF"), 0u);            // overlong
  EXPECT_EQ(find_invalid_utf8("x\xED\xA0\x80"), 1u);       // surrogate
  EXPECT_EQ(find_invalid_utf8("xy\xF4\x90\x80\x80"), 2u);  // > U+10FFFF
  EXPECT_EQ(find_invalid_utf8("\x80"), 0u);                // stray continuation
  try {
    decode_utf8("hello\xFFworld");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("byte offset 5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(encode_utf8(U"\xD800"), InvalidArgument);
}

TEST(Utf8, SanitizeLikePythonReplace) {
  // b"a\xe2\x82b\xffc".decode("utf-8", "replace") == "a\ufffdb\ufffdc"
  EXPECT_EQ(sanitize_utf8("a\xE2\x82"
                          "b\xFF"
                          "c"),
            "a\uFFFD"
            "b\uFFFD"
            "c");
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98"), "\uFFFD");
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), "\uFFFD\uFFFD");
  EXPECT_EQ(sanitize_utf8("ok\u00E9"), "ok\u00E9");
}

TEST(Unicode, Properties) {
  EXPECT_TRUE(is_letter(U'\u00E9'));
  EXPECT_TRUE(is_letter(U'\u4F60'));
  EXPECT_FALSE(is_letter(U'1'));
  EXPECT_TRUE(is_number(U'\u0663'));  // Arabic-Indic three
  EXPECT_TRUE(is_number(U'\u00BD'));  // ½ is No
  EXPECT_TRUE(is_unicode_white_space(U'\u3000'));
  EXPECT_FALSE(is_unicode_white_space(U'\x1C'));
  EXPECT_TRUE(is_py_space(U'\x1C'));
  EXPECT_TRUE(is_py_space(U'\u0085'));
  EXPECT_FALSE(is_py_space(U'\u200B'));  // zero-width space is not whitespace in Python
  EXPECT_TRUE(is_py_lower(U'\u00DF'));
  EXPECT_FALSE(is_py_lower(U'A'));
  EXPECT_EQ(to_upper("\u00DF"), "SS");
  EXPECT_EQ(to_lower("\u0130"), "i\u0307");
  EXPECT_EQ(nfkd("\u00E9\uFB01"), "e\u0301fi");
}

}  // namespace
}  // namespace chatterd::text
