#include "text/gpt2_tokenizer.h"

#include <algorithm>
#include <array>
#include <limits>
#include <mutex>

#include "core/check.h"
#include "text/gpt2_pretokenize.h"
#include "text/utf8.h"

namespace chatterd::text {

namespace {

struct ByteTables {
  std::array<char32_t, 256> to_unicode{};
  std::array<std::int16_t, 512> to_byte{};  // all table code points are < 512; -1 = none
};

const ByteTables& byte_tables() {
  static const ByteTables tables = [] {
    ByteTables t;
    t.to_byte.fill(-1);
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const char32_t cp =
          printable(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
      t.to_unicode[static_cast<std::size_t>(b)] = cp;
      t.to_byte[cp] = static_cast<std::int16_t>(b);
    }
    return t;
  }();
  return tables;
}

// Words longer than this bypass the cache (long runs are rare and would crowd it).
constexpr std::size_t kMaxCachedWordBytes = 64;
// Distinct words kept; the cache is cleared when it fills (cheap, and keeps recent words hot).
constexpr std::size_t kMaxCacheEntries = 16384;

// transformers' clean_up_tokenization, in its order.
std::string clean_up_tokenization(std::string s) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> kRules{{
      {" .", "."},
      {" ?", "?"},
      {" !", "!"},
      {" ,", ","},
      {" ' ", "'"},
      {" n't", "n't"},
      {" 'm", "'m"},
      {" 's", "'s"},
      {" 've", "'ve"},
      {" 're", "'re"},
  }};
  for (const auto& [from, to] : kRules) {
    std::string out;
    out.reserve(s.size());
    std::size_t start = 0;
    for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, start)) {
      out.append(s, start, pos - start);
      out.append(to);
      start = pos + from.size();
    }
    out.append(s, start, std::string::npos);
    s = std::move(out);
  }
  return s;
}

}  // namespace

char32_t gpt2_byte_to_unicode(std::uint8_t byte) {
  return byte_tables().to_unicode[byte];
}

std::optional<std::uint8_t> gpt2_unicode_to_byte(char32_t cp) {
  if (cp >= 512) return std::nullopt;
  const std::int16_t b = byte_tables().to_byte[cp];
  if (b < 0) return std::nullopt;
  return static_cast<std::uint8_t>(b);
}

struct Gpt2Tokenizer::Cache {
  std::mutex mu;
  std::unordered_map<std::string, std::vector<std::int32_t>, StringHash, std::equal_to<>> words;
};

Gpt2Tokenizer::Gpt2Tokenizer(Gpt2TokenizerFiles files)
    : clean_up_tokenization_spaces_(files.clean_up_tokenization_spaces),
      model_max_length_(files.model_max_length),
      cache_(std::make_unique<Cache>()) {
  // Ids: the vocabulary, then added tokens (which may repeat a vocabulary entry, e.g.
  // <|endoftext|>). Every id below size() must have exactly one token.
  std::int64_t max_id = -1;
  for (const auto& [tok, id] : files.vocab) {
    CHATTERD_CHECK(id >= 0, ModelFormatError, "vocabulary token '{}' has negative id {}", tok, id);
    max_id = std::max<std::int64_t>(max_id, id);
  }
  for (const AddedToken& t : files.added_tokens) {
    CHATTERD_CHECK(t.id >= 0, ModelFormatError, "added token '{}' has negative id {}", t.content,
                   t.id);
    CHATTERD_CHECK(!t.content.empty(), ModelFormatError, "added token with id {} is empty", t.id);
    validate_utf8(t.content, "added token");
    max_id = std::max<std::int64_t>(max_id, t.id);
  }
  CHATTERD_CHECK(max_id < std::numeric_limits<std::int32_t>::max(), ModelFormatError,
                 "token id {} too large", max_id);
  id_to_token_.resize(static_cast<std::size_t>(max_id + 1));
  std::vector<std::uint8_t> seen(id_to_token_.size(), 0);
  for (auto& [tok, id] : files.vocab) {
    CHATTERD_CHECK(!seen[static_cast<std::size_t>(id)], ModelFormatError,
                   "vocabulary id {} used by '{}' and '{}'", id,
                   id_to_token_[static_cast<std::size_t>(id)], tok);
    seen[static_cast<std::size_t>(id)] = 1;
    id_to_token_[static_cast<std::size_t>(id)] = tok;
    token_to_id_.emplace(tok, id);
  }
  is_added_non_special_.assign(id_to_token_.size(), 0);
  for (const AddedToken& t : files.added_tokens) {
    const auto idx = static_cast<std::size_t>(t.id);
    if (seen[idx]) {
      CHATTERD_CHECK(id_to_token_[idx] == t.content, ModelFormatError,
                     "added token '{}' reuses id {} of vocabulary token '{}'", t.content, t.id,
                     id_to_token_[idx]);
    }
    if (auto it = token_to_id_.find(t.content); it != token_to_id_.end()) {
      CHATTERD_CHECK(it->second == t.id, ModelFormatError,
                     "added token '{}' has id {} but the vocabulary says {}", t.content, t.id,
                     it->second);
    }
    seen[idx] = 1;
    id_to_token_[idx] = t.content;
    token_to_id_.emplace(t.content, t.id);
    is_added_non_special_[idx] = t.special ? 0 : 1;
    if (std::none_of(added_.begin(), added_.end(),
                     [&](const AddedToken& a) { return a.content == t.content; })) {
      added_.push_back(t);
    }
  }
  for (std::size_t id = 0; id < seen.size(); ++id) {
    CHATTERD_CHECK(seen[id], ModelFormatError,
                   "token id {} is missing (ids must be contiguous from 0 to {})", id,
                   seen.size() - 1);
  }
  std::stable_sort(added_.begin(), added_.end(), [](const AddedToken& a, const AddedToken& b) {
    return a.content.size() > b.content.size();
  });
  added_first_byte_.assign(256, 0);
  for (const AddedToken& t : added_)
    added_first_byte_[static_cast<unsigned char>(t.content[0])] = 1;

  for (int b = 0; b < 256; ++b) {
    std::string s;
    append_utf8(s, gpt2_byte_to_unicode(static_cast<std::uint8_t>(b)));
    const auto it = token_to_id_.find(s);
    CHATTERD_CHECK(it != token_to_id_.end(), ModelFormatError,
                   "byte-level vocabulary has no token for byte 0x{:02X} ('{}')", b, s);
    byte_ids_[b] = it->second;
  }

  merges_.reserve(files.merges.size());
  for (std::size_t rank = 0; rank < files.merges.size(); ++rank) {
    // Named references, not a structured binding: clang 14 cannot capture bindings in lambdas.
    const std::string& a = files.merges[rank].first;
    const std::string& b = files.merges[rank].second;
    auto find = [&](const std::string& s) {
      const auto it = token_to_id_.find(s);
      CHATTERD_CHECK(it != token_to_id_.end(), ModelFormatError,
                     "merge #{} ('{} {}') uses unknown symbol '{}'", rank + 1, a, b, s);
      return it->second;
    };
    const std::int32_t ia = find(a);
    const std::int32_t ib = find(b);
    const std::int32_t merged = find(a + b);
    // A repeated pair takes its later rank: the reference builds a dict of ranks.
    merges_.insert_or_assign(pair_key(ia, ib), Merge{static_cast<std::int32_t>(rank), merged});
  }
}

Gpt2Tokenizer::Gpt2Tokenizer(Gpt2Tokenizer&&) noexcept = default;
Gpt2Tokenizer& Gpt2Tokenizer::operator=(Gpt2Tokenizer&&) noexcept = default;
Gpt2Tokenizer::~Gpt2Tokenizer() = default;

Gpt2Tokenizer Gpt2Tokenizer::from_dir(const std::filesystem::path& dir) {
  return Gpt2Tokenizer(read_gpt2_tokenizer_dir(dir));
}

void Gpt2Tokenizer::bpe(std::string_view word, std::vector<std::int32_t>& symbols) const {
  symbols.clear();
  for (char c : word) symbols.push_back(byte_ids_[static_cast<unsigned char>(c)]);
  // Repeatedly merge the best-ranked adjacent pair (leftmost on ties), as the reference does.
  while (symbols.size() > 1) {
    std::int32_t best_rank = std::numeric_limits<std::int32_t>::max();
    std::int32_t best_merged = -1;
    std::size_t best_pos = 0;
    for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = merges_.find(pair_key(symbols[i], symbols[i + 1]));
      if (it != merges_.end() && it->second.rank < best_rank) {
        best_rank = it->second.rank;
        best_merged = it->second.merged_id;
        best_pos = i;
      }
    }
    if (best_merged < 0) break;
    // Merge every occurrence of the pair, left to right, in one pass.
    const std::int32_t first = symbols[best_pos];
    const std::int32_t second = symbols[best_pos + 1];
    std::size_t w = best_pos;
    for (std::size_t r = best_pos; r < symbols.size(); ++r) {
      if (r + 1 < symbols.size() && symbols[r] == first && symbols[r + 1] == second) {
        symbols[w++] = best_merged;
        ++r;
      } else {
        symbols[w++] = symbols[r];
      }
    }
    symbols.resize(w);
  }
}

void Gpt2Tokenizer::encode_word(std::string_view word, std::vector<std::int32_t>& out) const {
  if (word.size() == 1) {
    out.push_back(byte_ids_[static_cast<unsigned char>(word[0])]);
    return;
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::lock_guard lock(cache_->mu);
    if (const auto it = cache_->words.find(word); it != cache_->words.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<std::int32_t> symbols;
  symbols.reserve(word.size());
  bpe(word, symbols);
  out.insert(out.end(), symbols.begin(), symbols.end());
  if (cacheable) {
    std::lock_guard lock(cache_->mu);
    if (cache_->words.size() >= kMaxCacheEntries) cache_->words.clear();
    cache_->words.emplace(std::string(word), std::move(symbols));
  }
}

void Gpt2Tokenizer::encode_text_segment(std::string_view text,
                                        std::vector<std::int32_t>& out) const {
  std::vector<std::string_view> words;
  gpt2_pretokenize(text, words);
  for (std::string_view w : words) encode_word(w, out);
}

std::pair<std::size_t, std::size_t> Gpt2Tokenizer::find_added(std::string_view text,
                                                              std::size_t pos) const {
  for (; pos < text.size(); ++pos) {
    if (!added_first_byte_[static_cast<unsigned char>(text[pos])]) continue;
    // added_ is sorted longest first, so the first hit is the longest match here.
    for (std::size_t i = 0; i < added_.size(); ++i) {
      if (text.compare(pos, added_[i].content.size(), added_[i].content) == 0) return {pos, i};
    }
  }
  return {std::string_view::npos, 0};
}

std::vector<std::int32_t> Gpt2Tokenizer::encode(std::string_view text) const {
  validate_utf8(text);
  std::vector<std::int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto [hit, index] = find_added(text, pos);
    const std::size_t end = hit == std::string_view::npos ? text.size() : hit;
    if (end > pos) encode_text_segment(text.substr(pos, end - pos), ids);
    if (hit == std::string_view::npos) break;
    ids.push_back(added_[index].id);
    pos = hit + added_[index].content.size();
  }
  return ids;
}

std::vector<std::string> Gpt2Tokenizer::tokenize(std::string_view text) const {
  const std::vector<std::int32_t> ids = encode(text);
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (std::int32_t id : ids) tokens.push_back(id_to_token_[static_cast<std::size_t>(id)]);
  return tokens;
}

std::string Gpt2Tokenizer::decode(std::span<const std::int32_t> ids) const {
  std::vector<std::string> pieces;
  std::string bytes;  // pending byte-level text
  auto flush = [&] {
    if (bytes.empty()) return;
    std::string s = sanitize_utf8(bytes);
    if (!s.empty()) pieces.push_back(std::move(s));
    bytes.clear();
  };
  for (std::int32_t id : ids) {
    CHATTERD_CHECK(id >= 0 && static_cast<std::size_t>(id) < size(), InvalidArgument,
                   "token id {} out of range [0, {})", id, size());
    const std::string& tok = id_to_token_[static_cast<std::size_t>(id)];
    if (is_added_non_special_[static_cast<std::size_t>(id)]) {
      flush();
      pieces.push_back(tok);
      continue;
    }
    std::size_t pos = 0;
    while (pos < tok.size()) {
      const char32_t cp = next_code_point(tok, pos);
      // Characters outside the byte table (only possible in special tokens) pass through.
      if (const auto b = gpt2_unicode_to_byte(cp)) {
        bytes.push_back(static_cast<char>(*b));
      } else {
        append_utf8(bytes, cp);
      }
    }
  }
  flush();
  std::string text;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    if (i > 0) text.push_back(' ');
    text.append(pieces[i]);
  }
  return clean_up_tokenization_spaces_ ? clean_up_tokenization(std::move(text)) : text;
}

void Gpt2Tokenizer::clear_cache() const {
  std::lock_guard lock(cache_->mu);
  cache_->words.clear();
}

void Gpt2Tokenizer::check_size(std::size_t expected, std::string_view model_name) const {
  CHATTERD_CHECK(size() == expected, ModelFormatError,
                 "tokenizer has {} tokens but model '{}' expects a text vocabulary of {}", size(),
                 model_name, expected);
}

std::optional<std::int32_t> Gpt2Tokenizer::token_to_id(std::string_view token) const {
  const auto it = token_to_id_.find(token);
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

const std::string& Gpt2Tokenizer::id_to_token(std::int32_t id) const {
  CHATTERD_CHECK(id >= 0 && static_cast<std::size_t>(id) < size(), InvalidArgument,
                 "token id {} out of range [0, {})", id, size());
  return id_to_token_[static_cast<std::size_t>(id)];
}

}  // namespace chatterd::text
