#include "models/t3/t3_text_cfg.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "core/check.h"
#include "text/punc_norm.h"
#include "text/text_prep.h"
#include "text/unicode.h"
#include "text/utf8.h"

namespace chatterd {
namespace {

constexpr std::string_view kStartToken = "[START]";
constexpr std::string_view kStopToken = "[STOP]";

std::string describe(std::u32string_view chars) {
  std::string s;
  std::u32string seen;
  for (const char32_t c : chars) {
    if (seen.find(c) != std::u32string::npos) continue;
    if (seen.size() == 8) {
      s += ", ...";
      break;
    }
    seen.push_back(c);
    if (!s.empty()) s += ", ";
    s += fmt::format("U+{:04X} '", static_cast<std::uint32_t>(c));
    text::append_utf8(s, c);
    s += "'";
  }
  return s;
}

}  // namespace

T3CfgTextEncoder::T3CfgTextEncoder(text::HfTokenizer tokenizer, const T3Config& config,
                                   bool allow_unknown)
    : tokenizer_(std::move(tokenizer)), config_(config), allow_unknown_(allow_unknown) {
  CHATTERD_CHECK(config_.backbone == T3Backbone::Llama, Unsupported,
                 "T3CfgTextEncoder: English/Multilingual text needs a Llama T3 config, got {}",
                 t3_backbone_name(config_.backbone));
  const std::string& src = tokenizer_.source();
  const auto sot = tokenizer_.token_to_id(kStartToken);
  const auto eot = tokenizer_.token_to_id(kStopToken);
  CHATTERD_CHECK(sot && eot && tokenizer_.token_to_id(text::kSpaceToken), ModelFormatError,
                 "{}: the tokenizer lacks {}{}{} (EnTokenizer/MTLTokenizer require them)", src,
                 sot ? "" : "[START] ", eot ? "" : "[STOP] ",
                 tokenizer_.token_to_id(text::kSpaceToken) ? "" : "[SPACE]");
  CHATTERD_CHECK(*sot == config_.start_text_token && *eot == config_.stop_text_token,
                 ModelFormatError,
                 "{}: [START]/[STOP] are ids {}/{} but the T3 checkpoint expects {}/{}", src, *sot,
                 *eot, config_.start_text_token, config_.stop_text_token);
  CHATTERD_CHECK(tokenizer_.max_id() < config_.text_vocab_size, ModelFormatError,
                 "{}: token ids reach {} but the T3 text table has {} rows", src,
                 tokenizer_.max_id(), config_.text_vocab_size);
  if (config_.is_multilingual) {
    std::string missing;
    for (const text::LanguageInfo& l : text::kLanguages) {
      if (!tokenizer_.token_to_id(fmt::format("[{}]", l.code))) {
        if (!missing.empty()) missing.push_back(' ');
        missing += fmt::format("[{}]", l.code);
      }
    }
    CHATTERD_CHECK(missing.empty(), ModelFormatError,
                   "{}: a multilingual checkpoint needs the multilingual tokenizer "
                   "(grapheme_mtl_merged_expanded_v1.json); this one lacks the language tags {}",
                   src, missing);
  }
}

T3CfgTextEncoder T3CfgTextEncoder::from_file(const std::filesystem::path& tokenizer_json,
                                             const T3Config& config) {
  return T3CfgTextEncoder(text::HfTokenizer::from_file(tokenizer_json), config);
}

std::int64_t T3CfgTextEncoder::max_text_tokens(std::int64_t cond_length,
                                               std::int64_t max_gen_len) const {
  // Prefill = cond + text + 2 BOS rows; then at most max_gen_len + 1 fed tokens.
  const std::int64_t limit =
      std::min(config_.text_pos_emb_rows,
               config_.max_position_embeddings - cond_length - 2 - (max_gen_len + 1));
  CHATTERD_CHECK(limit >= 3, InvalidArgument,
                 "T3: no room for text: {} positions, conditioning {} + 2 BOS + {} speech tokens",
                 config_.max_position_embeddings, cond_length, max_gen_len + 1);
  return limit;
}

std::vector<std::int64_t> T3CfgTextEncoder::ids_of(std::string_view normalized,
                                                   std::optional<text::Language> language) const {
  const std::string input = config_.is_multilingual
                                ? text::multilingual_tokenizer_input(normalized, *language)
                                : text::english_tokenizer_input(normalized);
  const text::HfTokenizer::Encoding enc = tokenizer_.encode(input);
  // Unknown symbols (emoji, dingbats) become [UNK] as in the reference; unknown letters or digits
  // mean a script this model does not speak, whose [UNK] speech would be garbage.
  std::u32string unknown_letters;
  for (const char32_t c : enc.unknown) {
    if (text::is_letter(c) || text::is_number(c)) unknown_letters.push_back(c);
  }
  CHATTERD_CHECK(unknown_letters.empty() || allow_unknown_, InvalidArgument,
                 "the {} tokenizer has no token for {} (text in a script this model does not "
                 "speak{})",
                 config_.is_multilingual ? "multilingual" : "English", describe(unknown_letters),
                 config_.is_multilingual ? "" : "; the multilingual model speaks 23 languages");
  std::vector<std::int64_t> ids;
  ids.reserve(enc.ids.size() + 2);
  ids.push_back(config_.start_text_token);
  ids.insert(ids.end(), enc.ids.begin(), enc.ids.end());
  ids.push_back(config_.stop_text_token);
  return ids;
}

std::vector<T3TextChunk> T3CfgTextEncoder::encode(std::string_view raw_text,
                                                  std::optional<text::Language> language,
                                                  std::int64_t max_tokens) const {
  CHATTERD_CHECK(max_tokens >= 3, InvalidArgument, "T3 text: max_tokens must be >= 3, got {}",
                 max_tokens);
  CHATTERD_CHECK(!config_.is_multilingual || language.has_value(), InvalidArgument,
                 "the multilingual model needs a language (one of {})",
                 text::supported_language_codes());
  const auto max = static_cast<std::size_t>(max_tokens);
  // One word longer than the limit: cut its ids (between SOT and EOT) into pieces.
  auto cut = [&](std::string_view word, const std::vector<std::int64_t>& ids,
                 std::vector<T3TextChunk>& out) {
    const std::size_t body = max - 2;
    for (std::size_t i = 1; i + 1 < ids.size(); i += body) {
      const std::size_t end = std::min(ids.size() - 1, i + body);
      std::vector<std::int64_t> part{config_.start_text_token};
      part.insert(part.end(), ids.begin() + static_cast<std::ptrdiff_t>(i),
                  ids.begin() + static_cast<std::ptrdiff_t>(end));
      part.push_back(config_.stop_text_token);
      out.push_back({std::string(word), std::move(part)});
    }
  };
  return pack_text_chunks(
      text::punc_norm(raw_text, config_.is_multilingual ? text::PuncNormFlavor::kMultilingual
                                                        : text::PuncNormFlavor::kEnglish),
      max, [&](std::string_view t) { return ids_of(t, language); }, cut);
}

}  // namespace chatterd
