#pragma once
// GPT-2 byte-level BPE tokenizer (Chatterbox Turbo/Nano text tokenizer), matching transformers'
// GPT2Tokenizer: added tokens are split out first (leftmost, longest), the rest is pre-tokenised
// with GPT-2's regex, each piece's UTF-8 bytes are mapped through the byte->unicode table and
// merged by BPE rank. No BOS/EOS is added (the reference adds none for Turbo).
//
// Text between brackets that is not an added token (e.g. "[foo]") is ordinary text and is
// tokenised by BPE like any other characters. Spaces around added tokens are kept as they are
// (lstrip/rstrip are false in the Turbo files), so "a [laugh] b" gives "a", "Ġ", "[laugh]", "Ġb".

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace chatterd::text {

struct AddedToken {
  std::string content;
  std::int32_t id = 0;
  // Special tokens (e.g. <|endoftext|>) decode as part of the byte stream; the other added
  // tokens decode as separate words (transformers' slow-tokenizer decode).
  bool special = false;
};

// Everything a tokenizer file set describes, in file terms (token strings are in GPT-2's
// byte->unicode alphabet).
struct Gpt2TokenizerFiles {
  std::unordered_map<std::string, std::int32_t> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  std::vector<AddedToken> added_tokens;
  bool clean_up_tokenization_spaces = true;
  std::optional<std::size_t> model_max_length;
};

// Reads a tokenizer directory: tokenizer.json (HF fast format: model.vocab, model.merges,
// added_tokens) when present, otherwise vocab.json + merges.txt with the optional
// added_tokens.json, tokenizer_config.json (added_tokens_decoder, clean_up_tokenization_spaces,
// model_max_length) and special_tokens_map.json. Throws IoError for unreadable files and
// ModelFormatError (naming file and line) for malformed ones.
Gpt2TokenizerFiles read_gpt2_tokenizer_dir(const std::filesystem::path& dir);
Gpt2TokenizerFiles read_gpt2_vocab_merges(const std::filesystem::path& vocab_json,
                                          const std::filesystem::path& merges_txt);
Gpt2TokenizerFiles read_hf_tokenizer_json(const std::filesystem::path& tokenizer_json);

class Gpt2Tokenizer {
 public:
  // Throws ModelFormatError when merges reference unknown symbols, a byte has no token, ids
  // collide or added tokens conflict with the vocabulary.
  explicit Gpt2Tokenizer(Gpt2TokenizerFiles files);
  static Gpt2Tokenizer from_dir(const std::filesystem::path& dir);

  Gpt2Tokenizer(Gpt2Tokenizer&&) noexcept;
  Gpt2Tokenizer& operator=(Gpt2Tokenizer&&) noexcept;
  Gpt2Tokenizer(const Gpt2Tokenizer&) = delete;
  Gpt2Tokenizer& operator=(const Gpt2Tokenizer&) = delete;
  ~Gpt2Tokenizer();

  // Thread-safe. Throws InvalidArgument (with the byte offset) for invalid UTF-8.
  std::vector<std::int32_t> encode(std::string_view text) const;
  // The token strings of encode(text) (byte->unicode alphabet, e.g. "Ġthere").
  std::vector<std::string> tokenize(std::string_view text) const;
  // transformers' slow decode: byte-level text, added (non-special) tokens joined by single
  // spaces, invalid UTF-8 replaced by U+FFFD, then clean_up_tokenization if configured.
  // Throws InvalidArgument for an id outside [0, size()).
  std::string decode(std::span<const std::int32_t> ids) const;

  // len(tokenizer): vocabulary plus added tokens not in it (50276 for Turbo).
  std::size_t size() const { return id_to_token_.size(); }
  // Throws ModelFormatError unless size() == expected (the model's text vocabulary size).
  void check_size(std::size_t expected, std::string_view model_name) const;

  std::optional<std::int32_t> token_to_id(std::string_view token) const;
  const std::string& id_to_token(std::int32_t id) const;
  std::optional<std::size_t> model_max_length() const { return model_max_length_; }

  // Drops the per-word BPE cache (benchmarks measure the cold path with it).
  void clear_cache() const;

 private:
  struct Merge {
    std::int32_t rank;
    std::int32_t merged_id;
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using TokenMap = std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>>;
  struct Cache;

  static std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
           static_cast<std::uint32_t>(b);
  }
  // Appends the ids of one pre-token (raw UTF-8 bytes).
  void encode_word(std::string_view word, std::vector<std::int32_t>& out) const;
  void bpe(std::string_view word, std::vector<std::int32_t>& symbols) const;
  void encode_text_segment(std::string_view text, std::vector<std::int32_t>& out) const;
  // Offset and index of the leftmost-longest added token at or after `pos`, or npos.
  std::pair<std::size_t, std::size_t> find_added(std::string_view text, std::size_t pos) const;

  TokenMap token_to_id_;
  std::vector<std::string> id_to_token_;
  std::unordered_map<std::uint64_t, Merge> merges_;
  std::int32_t byte_ids_[256] = {};
  std::vector<AddedToken> added_;                   // longest first
  std::vector<std::uint8_t> added_first_byte_;      // 256 flags: a token starts with this byte
  std::vector<std::uint8_t> is_added_non_special_;  // per id
  bool clean_up_tokenization_spaces_ = true;
  std::optional<std::size_t> model_max_length_;
  std::unique_ptr<Cache> cache_;
};

// GPT-2's reversible byte <-> printable code point table (bytes_to_unicode in the reference).
char32_t gpt2_byte_to_unicode(std::uint8_t byte);
// Inverse; std::nullopt for code points outside the table.
std::optional<std::uint8_t> gpt2_unicode_to_byte(char32_t cp);

}  // namespace chatterd::text
