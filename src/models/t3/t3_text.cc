#include "models/t3/t3_text.h"

#include <algorithm>
#include <utility>

#include "core/check.h"
#include "text/punc_norm.h"

namespace chatterd {
namespace {

// Splits after each run of sentence enders followed by a space. Pieces keep their enders and
// lose the separating space.
std::vector<std::string_view> split_sentences(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    const char c = s[i];
    if ((c == '.' || c == '!' || c == '?') && s[i + 1] == ' ') {
      out.push_back(s.substr(start, i + 1 - start));
      start = i + 2;
    }
  }
  if (start < s.size()) out.push_back(s.substr(start));
  return out;
}

std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < s.size()) {
    const std::size_t sp = s.find(' ', start);
    const std::size_t end = sp == std::string_view::npos ? s.size() : sp;
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

T3TextEncoder::T3TextEncoder(text::Gpt2Tokenizer tokenizer, const T3Config& config)
    : tokenizer_(std::move(tokenizer)), config_(config) {
  CHATTERD_CHECK(config_.backbone == T3Backbone::Gpt2, Unsupported,
                 "T3TextEncoder: only the GPT-2 (Turbo/Nano) text path is implemented, got a {} "
                 "config",
                 t3_backbone_name(config_.backbone));
  tokenizer_.check_size(static_cast<std::size_t>(config_.text_vocab_size), "t3 (text_emb)");
}

T3TextEncoder T3TextEncoder::from_dir(const std::filesystem::path& dir, const T3Config& config) {
  return T3TextEncoder(text::Gpt2Tokenizer::from_dir(dir), config);
}

std::int64_t T3TextEncoder::max_text_tokens(std::int64_t cond_length,
                                            std::int64_t max_gen_len) const {
  std::int64_t limit = config_.max_position_embeddings - cond_length - 1 - (max_gen_len + 1);
  if (tokenizer_.model_max_length()) {
    limit =
        std::min<std::int64_t>(limit, static_cast<std::int64_t>(*tokenizer_.model_max_length()));
  }
  CHATTERD_CHECK(limit >= 1, InvalidArgument,
                 "T3: no room for text: {} positions, conditioning {} + BOS + {} speech tokens",
                 config_.max_position_embeddings, cond_length, max_gen_len + 1);
  return limit;
}

std::vector<std::int64_t> T3TextEncoder::ids_of(std::string_view text) const {
  const auto ids32 = tokenizer_.encode(text);
  return {ids32.begin(), ids32.end()};
}

std::vector<T3TextChunk> pack_text_chunks(std::string normalized, std::size_t max_ids,
                                          const TextIdsFn& ids_of, const CutWordFn& cut_word) {
  std::vector<T3TextChunk> chunks;
  auto whole = ids_of(normalized);
  if (whole.size() <= max_ids) {
    chunks.push_back({std::move(normalized), std::move(whole)});
    return chunks;
  }
  std::string current;
  std::vector<std::int64_t> current_ids;
  auto flush = [&] {
    if (!current_ids.empty()) chunks.push_back({std::move(current), std::move(current_ids)});
    current.clear();
    current_ids.clear();
  };
  auto add_piece = [&](std::string_view piece, bool sentence, auto& self) -> void {
    std::string candidate = current;
    if (!candidate.empty()) candidate.push_back(' ');
    candidate.append(piece);
    auto ids = ids_of(candidate);
    if (ids.size() <= max_ids) {
      current = std::move(candidate);
      current_ids = std::move(ids);
      return;
    }
    flush();
    auto alone = ids_of(piece);
    if (alone.size() <= max_ids) {
      current = std::string(piece);
      current_ids = std::move(alone);
      return;
    }
    if (sentence) {
      for (const auto w : split_words(piece)) self(w, false, self);
      return;
    }
    cut_word(piece, alone, chunks);
  };
  for (const auto sentence : split_sentences(normalized)) add_piece(sentence, true, add_piece);
  flush();
  return chunks;
}

std::vector<T3TextChunk> T3TextEncoder::encode(std::string_view raw_text,
                                               std::int64_t max_tokens) const {
  CHATTERD_CHECK(max_tokens >= 1, InvalidArgument, "T3 text: max_tokens must be >= 1, got {}",
                 max_tokens);
  const auto max = static_cast<std::size_t>(max_tokens);
  // One word longer than the limit: cut between tokens.
  auto cut = [&](std::string_view, const std::vector<std::int64_t>& ids,
                 std::vector<T3TextChunk>& out) {
    for (std::size_t i = 0; i < ids.size(); i += max) {
      const auto first = ids.begin() + static_cast<std::ptrdiff_t>(i);
      const auto last = ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + max));
      out.push_back({tokenizer_.decode(std::vector<std::int32_t>(first, last)),
                     std::vector<std::int64_t>(first, last)});
    }
  };
  return pack_text_chunks(
      text::punc_norm(raw_text, text::PuncNormFlavor::kTurbo), max,
      [this](std::string_view t) { return ids_of(t); }, cut);
}

}  // namespace chatterd
