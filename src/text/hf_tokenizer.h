#pragma once
// A reader for Hugging Face `tokenizers` files (tokenizer.json), limited to exactly what the
// Chatterbox English `tokenizer.json` and multilingual `grapheme_mtl_merged_expanded_v1.json` use:
//   * model: BPE with `vocab` and `merges` (either "a b" strings or ["a", "b"] pairs),
//     `unk_token` (one unknown id per unknown character; consecutive ones fused when `fuse_unk`),
//     `ignore_merges`; no dropout, no continuing-subword prefix, no end-of-word suffix, no byte
//     fallback;
//   * added_tokens: split out of the input first, leftmost-longest (tokens with normalized=false
//     first, then the others, as `tokenizers` does); single_word/lstrip/rstrip must be false;
//   * normalizer: none;
//   * pre_tokenizer: "Whitespace" (pieces are runs of \w or runs of [^\w\s], whitespace dropped)
//     or none;
//   * post_processor, decoder, truncation, padding: none.
// Any other feature is refused at load with Unsupported naming the field, so a file we would
// silently mis-tokenise can never load.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace chatterd::text {

class HfTokenizer {
 public:
  enum class PreTokenizer { kNone, kWhitespace };

  struct AddedToken {
    std::string content;
    std::int32_t id = 0;
    bool special = false;
    bool normalized = false;
  };

  struct Encoding {
    std::vector<std::int32_t> ids;
    // Characters the model had no token for (each became the unknown token, or was dropped when
    // the file has no unk_token), in input order.
    std::u32string unknown;
  };

  // `json_text` is the file's content; `source` names it in error messages. Throws
  // ModelFormatError for malformed files (naming the field) and Unsupported for features outside
  // the subset above.
  static HfTokenizer from_json(std::string_view json_text, std::string_view source);
  // Throws IoError when the file cannot be read.
  static HfTokenizer from_file(const std::filesystem::path& path);

  // tokenizer.encode(text).ids (add_special_tokens has no effect: there is no post-processor).
  // Thread-safe. Throws InvalidArgument for invalid UTF-8.
  Encoding encode(std::string_view text) const;
  // tokenizer.decode(ids, skip_special_tokens=False) with no decoder: the tokens joined by ' '.
  // Throws InvalidArgument for an id no token has.
  std::string decode(std::span<const std::int32_t> ids) const;

  // get_vocab(): the model vocabulary together with the added tokens.
  std::optional<std::int32_t> token_to_id(std::string_view token) const;
  // Largest id of any token (+1 = rows an embedding table needs).
  std::int32_t max_id() const { return static_cast<std::int32_t>(id_to_token_.size()) - 1; }
  const std::vector<AddedToken>& added_tokens() const { return added_; }
  PreTokenizer pre_tokenizer() const { return pre_tokenizer_; }
  const std::string& source() const { return source_; }

 private:
  struct Merge {
    std::int32_t rank = 0;
    std::int32_t merged_id = 0;
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using TokenMap = std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>>;

  static std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
           static_cast<std::uint32_t>(b);
  }
  // Appends the ids of one pre-tokenised word.
  void encode_word(std::string_view word, Encoding& out) const;
  void encode_plain(std::string_view text, Encoding& out) const;

  std::string source_;
  TokenMap vocab_;  // model vocabulary
  TokenMap added_by_content_;
  std::vector<AddedToken> added_;
  std::vector<std::string> id_to_token_;  // "" for ids no token has
  std::unordered_map<std::uint64_t, Merge> merges_;
  std::optional<std::int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  PreTokenizer pre_tokenizer_ = PreTokenizer::kWhitespace;
};

}  // namespace chatterd::text
