#include "text/hf_tokenizer.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "text/unicode.h"
#include "text/utf8.h"

namespace chatterd::text {
namespace {

using nlohmann::json;

// A piece of input: either plain text or an added token already matched.
struct Segment {
  std::string_view text;
  std::optional<std::int32_t> added_id;
};

// Added tokens indexed by first byte, longest first: the first that matches at a position is the
// longest one there.
class AddedMatcher {
 public:
  void add(std::string_view content, std::int32_t id) {
    by_byte_[static_cast<unsigned char>(content.front())].emplace_back(content, id);
  }
  void finish() {
    for (auto& list : by_byte_) {
      std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
        return a.first.size() > b.first.size();
      });
    }
  }
  bool empty() const {
    return std::all_of(by_byte_.begin(), by_byte_.end(), [](const auto& l) { return l.empty(); });
  }
  // Leftmost-longest split of `text` (the aho-corasick LeftmostLongest of `tokenizers`).
  void split(std::string_view text, std::vector<Segment>& out) const {
    std::size_t plain_start = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
      const auto& list = by_byte_[static_cast<unsigned char>(text[pos])];
      const std::pair<std::string_view, std::int32_t>* hit = nullptr;
      for (const auto& cand : list) {
        if (text.substr(pos, cand.first.size()) == cand.first) {
          hit = &cand;
          break;
        }
      }
      if (hit == nullptr) {
        ++pos;
        continue;
      }
      if (pos > plain_start) out.push_back({text.substr(plain_start, pos - plain_start), {}});
      out.push_back({text.substr(pos, hit->first.size()), hit->second});
      pos += hit->first.size();
      plain_start = pos;
    }
    if (plain_start < text.size()) out.push_back({text.substr(plain_start), {}});
  }

 private:
  std::array<std::vector<std::pair<std::string_view, std::int32_t>>, 256> by_byte_;
};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  CHATTERD_CHECK(in.good(), IoError, "cannot open tokenizer file {}", path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  CHATTERD_CHECK(!in.bad(), IoError, "cannot read tokenizer file {}", path.string());
  return ss.str();
}

bool is_null_or_missing(const json& j, const char* key) {
  return !j.contains(key) || j.at(key).is_null();
}

void require_absent(const json& j, const char* key, std::string_view source) {
  if (is_null_or_missing(j, key)) return;
  const json& v = j.at(key);
  const std::string type = v.is_object() && v.contains("type") && v.at("type").is_string()
                               ? v.at("type").get<std::string>()
                               : v.dump().substr(0, 60);
  CHATTERD_THROW(Unsupported, "{}: tokenizer field '{}' ({}) is not supported (only null)", source,
                 key, type);
}

bool bool_field(const json& obj, const char* key, bool fallback, std::string_view source,
                std::string_view where) {
  if (is_null_or_missing(obj, key)) return fallback;
  CHATTERD_CHECK(obj.at(key).is_boolean(), ModelFormatError, "{}: {}.{} must be a boolean", source,
                 where, key);
  return obj.at(key).get<bool>();
}

std::int32_t id_field(const json& v, std::string_view source, std::string_view where) {
  CHATTERD_CHECK(v.is_number_integer(), ModelFormatError, "{}: {} must be an integer id, got {}",
                 source, where, v.dump().substr(0, 40));
  const auto id = v.get<std::int64_t>();
  CHATTERD_CHECK(id >= 0 && id < (1 << 24), ModelFormatError, "{}: {} id {} out of range", source,
                 where, id);
  return static_cast<std::int32_t>(id);
}

}  // namespace

HfTokenizer HfTokenizer::from_file(const std::filesystem::path& path) {
  return from_json(read_file(path), path.string());
}

HfTokenizer HfTokenizer::from_json(std::string_view json_text, std::string_view source) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    CHATTERD_THROW(ModelFormatError, "{}: not valid JSON: {}", source, e.what());
  }
  CHATTERD_CHECK(root.is_object(), ModelFormatError, "{}: tokenizer JSON must be an object",
                 source);
  HfTokenizer t;
  t.source_ = std::string(source);

  // Pipeline stages we do not implement must be absent.
  for (const char* key : {"normalizer", "post_processor", "decoder", "truncation", "padding"}) {
    require_absent(root, key, source);
  }
  if (is_null_or_missing(root, "pre_tokenizer")) {
    t.pre_tokenizer_ = PreTokenizer::kNone;
  } else {
    const json& pre = root.at("pre_tokenizer");
    const std::string type = pre.is_object() && pre.contains("type") && pre.at("type").is_string()
                                 ? pre.at("type").get<std::string>()
                                 : std::string();
    CHATTERD_CHECK(type == "Whitespace", Unsupported,
                   "{}: pre_tokenizer '{}' is not supported (only Whitespace or null)", source,
                   type.empty() ? pre.dump().substr(0, 60) : type);
    t.pre_tokenizer_ = PreTokenizer::kWhitespace;
  }

  // The model.
  CHATTERD_CHECK(root.contains("model") && root.at("model").is_object(), ModelFormatError,
                 "{}: no 'model' object", source);
  const json& model = root.at("model");
  if (model.contains("type")) {
    CHATTERD_CHECK(model.at("type").is_string() && model.at("type").get<std::string>() == "BPE",
                   Unsupported, "{}: model type {} is not supported (only BPE)", source,
                   model.at("type").dump());
  }
  if (!is_null_or_missing(model, "dropout")) {
    CHATTERD_THROW(Unsupported, "{}: BPE dropout is not supported", source);
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (is_null_or_missing(model, key)) continue;
    CHATTERD_CHECK(model.at(key).is_string() && model.at(key).get<std::string>().empty(),
                   Unsupported, "{}: model.{} {} is not supported", source, key,
                   model.at(key).dump());
  }
  CHATTERD_CHECK(!bool_field(model, "byte_fallback", false, source, "model"), Unsupported,
                 "{}: model.byte_fallback is not supported", source);
  t.fuse_unk_ = bool_field(model, "fuse_unk", false, source, "model");
  t.ignore_merges_ = bool_field(model, "ignore_merges", false, source, "model");

  CHATTERD_CHECK(model.contains("vocab") && model.at("vocab").is_object(), ModelFormatError,
                 "{}: model.vocab must be an object", source);
  std::int32_t max_id = -1;
  for (const auto& [token, id_json] : model.at("vocab").items()) {
    const std::int32_t id = id_field(id_json, source, "model.vocab[\"" + token + "\"]");
    CHATTERD_CHECK(!token.empty(), ModelFormatError, "{}: empty token in model.vocab", source);
    t.vocab_.emplace(token, id);
    max_id = std::max(max_id, id);
  }

  // Added tokens.
  if (!is_null_or_missing(root, "added_tokens")) {
    CHATTERD_CHECK(root.at("added_tokens").is_array(), ModelFormatError,
                   "{}: added_tokens must be an array", source);
    for (const json& a : root.at("added_tokens")) {
      CHATTERD_CHECK(
          a.is_object() && a.contains("content") && a.at("content").is_string() && a.contains("id"),
          ModelFormatError, "{}: added token without content/id: {}", source,
          a.dump().substr(0, 80));
      AddedToken tok;
      tok.content = a.at("content").get<std::string>();
      CHATTERD_CHECK(!tok.content.empty(), ModelFormatError, "{}: empty added token", source);
      validate_utf8(tok.content, "added token");
      tok.id = id_field(a.at("id"), source, "added token \"" + tok.content + "\"");
      const std::string where = "added token \"" + tok.content + "\"";
      for (const char* key : {"single_word", "lstrip", "rstrip"}) {
        CHATTERD_CHECK(!bool_field(a, key, false, source, where), Unsupported,
                       "{}: {} has {}=true, which is not supported", source, where, key);
      }
      tok.special = bool_field(a, "special", false, source, where);
      tok.normalized = bool_field(a, "normalized", !tok.special, source, where);
      const auto in_vocab = t.vocab_.find(tok.content);
      CHATTERD_CHECK(in_vocab == t.vocab_.end() || in_vocab->second == tok.id, ModelFormatError,
                     "{}: {} has id {} but the vocab gives it {}", source, where, tok.id,
                     in_vocab == t.vocab_.end() ? -1 : in_vocab->second);
      CHATTERD_CHECK(t.added_by_content_.emplace(tok.content, tok.id).second, ModelFormatError,
                     "{}: {} is listed twice", source, where);
      max_id = std::max(max_id, tok.id);
      t.added_.push_back(std::move(tok));
    }
  }
  CHATTERD_CHECK(max_id >= 0, ModelFormatError, "{}: the tokenizer has no tokens", source);

  t.id_to_token_.assign(static_cast<std::size_t>(max_id) + 1, std::string());
  auto assign = [&](const std::string& token, std::int32_t id) {
    std::string& slot = t.id_to_token_[static_cast<std::size_t>(id)];
    CHATTERD_CHECK(slot.empty() || slot == token, ModelFormatError,
                   "{}: id {} is used by both \"{}\" and \"{}\"", source, id, slot, token);
    slot = token;
  };
  for (const auto& [token, id] : t.vocab_) assign(token, id);
  for (const auto& a : t.added_) assign(a.content, a.id);

  if (!is_null_or_missing(model, "unk_token")) {
    CHATTERD_CHECK(model.at("unk_token").is_string(), ModelFormatError,
                   "{}: model.unk_token must be a string", source);
    const std::string unk = model.at("unk_token").get<std::string>();
    const auto it = t.vocab_.find(unk);
    CHATTERD_CHECK(it != t.vocab_.end(), ModelFormatError,
                   "{}: model.unk_token \"{}\" is not in the vocab", source, unk);
    t.unk_id_ = it->second;
  }

  // Merges, in rank order. The merged token must be in the vocab (`tokenizers` refuses otherwise).
  if (!is_null_or_missing(model, "merges")) {
    const json& merges = model.at("merges");
    CHATTERD_CHECK(merges.is_array(), ModelFormatError, "{}: model.merges must be an array",
                   source);
    std::int32_t rank = 0;
    for (const json& m : merges) {
      std::string a;
      std::string b;
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const std::size_t sp = s.find(' ');
        CHATTERD_CHECK(sp != std::string::npos && sp > 0 && sp + 1 < s.size() &&
                           s.find(' ', sp + 1) == std::string::npos,
                       ModelFormatError, "{}: merge {} is not \"a b\"", source, rank);
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else {
        CHATTERD_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(),
                       ModelFormatError, "{}: merge {} is not a pair of strings", source, rank);
        a = m[0].get<std::string>();
        b = m[1].get<std::string>();
      }
      const auto ia = t.vocab_.find(a);
      const auto ib = t.vocab_.find(b);
      const auto im = t.vocab_.find(a + b);
      CHATTERD_CHECK(
          ia != t.vocab_.end() && ib != t.vocab_.end() && im != t.vocab_.end(), ModelFormatError,
          "{}: merge {} (\"{}\" + \"{}\") uses a token not in the vocab", source, rank, a, b);
      // A repeated pair keeps its first (best) rank.
      t.merges_.emplace(pair_key(ia->second, ib->second), Merge{rank, im->second});
      ++rank;
    }
  }
  return t;
}

std::optional<std::int32_t> HfTokenizer::token_to_id(std::string_view token) const {
  if (const auto it = added_by_content_.find(token); it != added_by_content_.end()) {
    return it->second;
  }
  if (const auto it = vocab_.find(token); it != vocab_.end()) return it->second;
  return std::nullopt;
}

void HfTokenizer::encode_word(std::string_view word, Encoding& out) const {
  if (ignore_merges_) {
    if (const auto it = vocab_.find(word); it != vocab_.end()) {
      out.ids.push_back(it->second);
      return;
    }
  }
  // One symbol per character; unknown characters become unk (fused if configured) or vanish.
  std::vector<std::int32_t> symbols;
  std::size_t pos = 0;
  bool last_unk = false;
  while (pos < word.size()) {
    const std::size_t start = pos;
    const char32_t cp = next_code_point(word, pos);
    const auto it = vocab_.find(word.substr(start, pos - start));
    if (it != vocab_.end()) {
      symbols.push_back(it->second);
      last_unk = false;
      continue;
    }
    out.unknown.push_back(cp);
    if (!unk_id_) continue;
    if (!(fuse_unk_ && last_unk)) symbols.push_back(*unk_id_);
    last_unk = true;
  }
  // Merge the best-ranked pair (leftmost among equals) until none applies: the order in which
  // `tokenizers`' priority queue applies merges.
  while (symbols.size() > 1) {
    std::int32_t best_rank = std::numeric_limits<std::int32_t>::max();
    std::size_t best = 0;
    std::int32_t merged = 0;
    for (std::size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto it = merges_.find(pair_key(symbols[i], symbols[i + 1]));
      if (it != merges_.end() && it->second.rank < best_rank) {
        best_rank = it->second.rank;
        best = i;
        merged = it->second.merged_id;
      }
    }
    if (best_rank == std::numeric_limits<std::int32_t>::max()) break;
    symbols[best] = merged;
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  out.ids.insert(out.ids.end(), symbols.begin(), symbols.end());
}

void HfTokenizer::encode_plain(std::string_view text, Encoding& out) const {
  if (pre_tokenizer_ == PreTokenizer::kNone) {
    encode_word(text, out);
    return;
  }
  // Whitespace: the regex \w+|[^\w\s]+ keeps maximal runs of word characters and maximal runs of
  // other non-space characters; whitespace separates and is dropped.
  enum class Kind { kSpace, kWord, kOther };
  std::size_t pos = 0;
  std::size_t run_start = 0;
  Kind run = Kind::kSpace;
  while (pos < text.size()) {
    const std::size_t start = pos;
    const char32_t cp = next_code_point(text, pos);
    const Kind kind = is_regex_word(cp)            ? Kind::kWord
                      : is_unicode_white_space(cp) ? Kind::kSpace
                                                   : Kind::kOther;
    if (kind != run) {
      if (run != Kind::kSpace) encode_word(text.substr(run_start, start - run_start), out);
      run = kind;
      run_start = start;
    }
  }
  if (run != Kind::kSpace) encode_word(text.substr(run_start), out);
}

HfTokenizer::Encoding HfTokenizer::encode(std::string_view text) const {
  validate_utf8(text);
  // Added tokens first: those with normalized=false on the raw text, then the others on what
  // remains (no normalizer, so both see the same characters).
  AddedMatcher raw;
  AddedMatcher normalized;
  for (const auto& a : added_) (a.normalized ? normalized : raw).add(a.content, a.id);
  raw.finish();
  normalized.finish();
  std::vector<Segment> first;
  raw.split(text, first);
  std::vector<Segment> segments;
  for (const Segment& s : first) {
    if (s.added_id || normalized.empty()) {
      segments.push_back(s);
    } else {
      normalized.split(s.text, segments);
    }
  }
  Encoding out;
  for (const Segment& s : segments) {
    if (s.added_id) {
      out.ids.push_back(*s.added_id);
    } else {
      encode_plain(s.text, out);
    }
  }
  return out;
}

std::string HfTokenizer::decode(std::span<const std::int32_t> ids) const {
  std::string out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::int32_t id = ids[i];
    CHATTERD_CHECK(id >= 0 && static_cast<std::size_t>(id) < id_to_token_.size() &&
                       !id_to_token_[static_cast<std::size_t>(id)].empty(),
                   InvalidArgument, "{}: no token has id {}", source_, id);
    if (i > 0) out.push_back(' ');
    out += id_to_token_[static_cast<std::size_t>(id)];
  }
  return out;
}

}  // namespace chatterd::text
