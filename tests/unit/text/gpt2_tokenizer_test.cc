#include "text/gpt2_tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "chatterd/core/error.h"
#include "golden_util.h"
#include "text/gpt2_pretokenize.h"
#include "text/punc_norm.h"

namespace chatterd::text {
namespace {

using testing::tokenizer_golden;
using testing::turbo_tokenizer_dir;

const Gpt2Tokenizer& turbo() {
  static const Gpt2Tokenizer tok = Gpt2Tokenizer::from_dir(turbo_tokenizer_dir());
  return tok;
}

TEST(Gpt2Tokenizer, SizeMatchesTurbo) {
  EXPECT_EQ(turbo().size(), tokenizer_golden().at("turbo_tokenizer").at("len").get<std::size_t>());
  EXPECT_EQ(turbo().size(), 50276u);
  EXPECT_NO_THROW(turbo().check_size(50276, "turbo"));
  EXPECT_THROW(turbo().check_size(704, "english"), ModelFormatError);
  EXPECT_EQ(turbo().model_max_length(), 1024u);
  EXPECT_EQ(turbo().token_to_id("[laugh]"), 50275);
  EXPECT_EQ(turbo().token_to_id("<|endoftext|>"), 50256);
  EXPECT_EQ(turbo().id_to_token(612), "\u0120there");
}

TEST(Gpt2Tokenizer, GoldenIdsTokensDecoded) {
  const auto& entries = tokenizer_golden().at("entries");
  ASSERT_GE(entries.size(), 10u);
  for (const auto& e : entries) {
    SCOPED_TRACE(e.at("name").get<std::string>());
    const auto& g = e.at("turbo");
    const std::string normalized =
        punc_norm(e.at("text").get<std::string>(), PuncNormFlavor::kTurbo);
    ASSERT_EQ(normalized, g.at("normalized").get<std::string>());
    const std::vector<std::int32_t> ids = turbo().encode(normalized);
    EXPECT_EQ(ids, g.at("ids").get<std::vector<std::int32_t>>());
    EXPECT_EQ(turbo().tokenize(normalized), g.at("tokens").get<std::vector<std::string>>());
    EXPECT_EQ(turbo().decode(ids), g.at("decoded").get<std::string>());
  }
}

TEST(Gpt2Tokenizer, GoldenStableUnderRepeatAndThreads) {
  // The word cache must not change results, also with concurrent callers.
  const auto& entries = tokenizer_golden().at("entries");
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (std::size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        for (const auto& e : entries) {
          const auto& g = e.at("turbo");
          if (turbo().encode(g.at("normalized").get<std::string>()) !=
              g.at("ids").get<std::vector<std::int32_t>>()) {
            ++mismatches[t];
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

std::vector<std::string> pieces(std::string_view text) {
  std::vector<std::string_view> out;
  gpt2_pretokenize(text, out);
  return {out.begin(), out.end()};
}

TEST(Gpt2Pretokenize, RegexSemantics) {
  using V = std::vector<std::string>;
  EXPECT_EQ(pieces("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(pieces("it's they're I'll we'd"),
            (V{"it", "'s", " they", "'re", " I", "'ll", " we", "'d"}));
  EXPECT_EQ(pieces("a  b"), (V{"a", " ", " b"}));
  EXPECT_EQ(pieces("a   "), (V{"a", "   "}));
  EXPECT_EQ(pieces("a\tb"), (V{"a", "\t", "b"}));
  EXPECT_EQ(pieces("a \n b"), (V{"a", " \n", " b"}));
  EXPECT_EQ(pieces("x123 45"), (V{"x", "123", " 45"}));
  EXPECT_EQ(pieces("hi!? 'yo"), (V{"hi", "!?", " '", "yo"}));
  EXPECT_EQ(pieces("'S"), (V{"'", "S"}));  // contractions are case-sensitive
  EXPECT_EQ(pieces("caf\u00E9 \u4F60\u597D"), (V{"caf\u00E9", " \u4F60\u597D"}));
  EXPECT_EQ(pieces(" \u00BD"), (V{" \u00BD"}));
}

TEST(Gpt2Tokenizer, AddedTokensAndBrackets) {
  // Added tokens are split out before BPE; spaces around them stay (no lstrip/rstrip).
  const auto ids = turbo().encode("a [sigh] b");
  const std::vector<std::string> toks = turbo().tokenize("a [sigh] b");
  EXPECT_EQ(toks, (std::vector<std::string>{"a", "\u0120", "[sigh]", "\u0120b"}));
  // "[clear throat]" contains a space but is one token.
  EXPECT_EQ(turbo().encode("[clear throat]"), (std::vector<std::int32_t>{50267}));
  // An unknown tag is ordinary text.
  const auto unknown = turbo().tokenize("[yawn]");
  EXPECT_GT(unknown.size(), 1u);
  EXPECT_EQ(unknown.front(), "[");
  // The special <|endoftext|> in text is matched, as the reference tokenizer does.
  EXPECT_EQ(turbo().encode("x<|endoftext|>"), (std::vector<std::int32_t>{87, 50256}));
  EXPECT_EQ(turbo().decode(std::vector<std::int32_t>{87, 50256}), "x<|endoftext|>");
}

TEST(Gpt2Tokenizer, ByteFallbackAndRoundTrip) {
  // Every byte has a token, so any valid UTF-8 round-trips (no clean-up patterns in it).
  const std::string text = "\u00DFm\u00F8rg\u00E5s \u4F60\u597D\U0001F600 \u0639\u0631\u0628\u064A";
  const auto ids = turbo().encode(text);
  EXPECT_EQ(turbo().decode(ids), text);
  EXPECT_TRUE(turbo().encode("").empty());
}

TEST(Gpt2Tokenizer, Errors) {
  EXPECT_THROW(turbo().encode("ok\xC3("), InvalidArgument);
  try {
    turbo().encode("abc\xE2\x28\xA1");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("byte offset 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(turbo().decode(std::vector<std::int32_t>{-1}), InvalidArgument);
  EXPECT_THROW(turbo().decode(std::vector<std::int32_t>{50276}), InvalidArgument);
  EXPECT_THROW(turbo().id_to_token(99999), InvalidArgument);
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("chatterd_tok_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  void write(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name, std::ios::binary) << content;
  }

 private:
  std::filesystem::path path_;
};

// A tiny byte-level vocabulary: the 256 byte tokens, then merged tokens.
std::string tiny_vocab_json(const std::vector<std::string>& extra) {
  nlohmann::json v = nlohmann::json::object();
  std::int32_t id = 0;
  for (int b = 0; b < 256; ++b) {
    std::string s;
    const char32_t cp = gpt2_byte_to_unicode(static_cast<std::uint8_t>(b));
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    v[s] = id++;
  }
  for (const auto& e : extra) v[e] = id++;
  return v.dump();
}

std::string error_of(const std::filesystem::path& dir) {
  try {
    Gpt2Tokenizer::from_dir(dir);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Gpt2TokenizerFiles, TinyVocabAndErrors) {
  TempDir d;
  d.write("vocab.json", tiny_vocab_json({"ab", "abc"}));
  d.write("merges.txt", "#version: 0.2\na b\nab c\n");
  {
    const Gpt2Tokenizer tok = Gpt2Tokenizer::from_dir(d.path());
    EXPECT_EQ(tok.size(), 258u);
    EXPECT_EQ(tok.encode("abcab"), (std::vector<std::int32_t>{257, 256}));
  }
  d.write("merges.txt", "#version: 0.2\na b\nabc\n");
  EXPECT_NE(error_of(d.path()).find("merges.txt:3"), std::string::npos) << error_of(d.path());
  d.write("merges.txt", "a b\nab z\n");
  EXPECT_NE(error_of(d.path()).find("unknown symbol 'abz'"), std::string::npos)
      << error_of(d.path());
  d.write("merges.txt", "a b\nq\xC4\xA0 x\n");
  EXPECT_NE(error_of(d.path()).find("unknown symbol"), std::string::npos) << error_of(d.path());
  d.write("merges.txt", "a b\n");
  d.write("vocab.json", "{\"a\": 0,\n \"b\": }");
  EXPECT_NE(error_of(d.path()).find("vocab.json: invalid JSON"), std::string::npos)
      << error_of(d.path());
  EXPECT_NE(error_of(d.path()).find("line 2"), std::string::npos) << error_of(d.path());
  d.write("vocab.json", "{\"a\": 0, \"b\": 1}");
  EXPECT_NE(error_of(d.path()).find("no token for byte"), std::string::npos) << error_of(d.path());
  d.write("vocab.json", "{\"a\": \"zero\"}");
  EXPECT_NE(error_of(d.path()).find("not an integer"), std::string::npos) << error_of(d.path());
  std::filesystem::remove(d.path() / "vocab.json");
  EXPECT_THROW(Gpt2Tokenizer::from_dir(d.path()), IoError);
  EXPECT_THROW(Gpt2Tokenizer::from_dir(d.path() / "missing"), IoError);
}

TEST(Gpt2TokenizerFiles, HfTokenizerJsonMatchesSplitFiles) {
  // Build tokenizer.json from the Turbo files; both loaders must encode the goldens alike.
  const Gpt2TokenizerFiles files = read_gpt2_tokenizer_dir(turbo_tokenizer_dir());
  nlohmann::json j;
  j["model"]["type"] = "BPE";
  j["model"]["vocab"] = files.vocab;
  nlohmann::json merges = nlohmann::json::array();
  for (std::size_t i = 0; i < files.merges.size(); ++i) {
    const auto& [a, b] = files.merges[i];
    // Mix both serialisations: "a b" and ["a", "b"].
    merges.push_back(i % 2 == 0 ? nlohmann::json(a + " " + b) : nlohmann::json::array({a, b}));
  }
  j["model"]["merges"] = merges;
  j["added_tokens"] = nlohmann::json::array();
  for (const AddedToken& t : files.added_tokens) {
    j["added_tokens"].push_back({{"id", t.id}, {"content", t.content}, {"special", t.special}});
  }
  TempDir d;
  d.write("tokenizer.json", j.dump());
  const Gpt2Tokenizer tok = Gpt2Tokenizer::from_dir(d.path());
  EXPECT_EQ(tok.size(), 50276u);
  for (const auto& e : tokenizer_golden().at("entries")) {
    const auto& g = e.at("turbo");
    EXPECT_EQ(tok.encode(g.at("normalized").get<std::string>()),
              g.at("ids").get<std::vector<std::int32_t>>());
  }
  j["added_tokens"].push_back({{"id", 50276}, {"content", "[x]"}, {"lstrip", true}});
  d.write("tokenizer.json", j.dump());
  EXPECT_THROW(Gpt2Tokenizer::from_dir(d.path()), Unsupported);
  d.write("tokenizer.json", R"({"model": {"type": "WordPiece", "vocab": {}}})");
  EXPECT_NE(error_of(d.path()).find("expected \"BPE\""), std::string::npos) << error_of(d.path());
}

}  // namespace
}  // namespace chatterd::text
