#pragma once
// Text -> T3 text-token ids for English and Multilingual (Llama T3 with CFG):
//   English:      tts.punc_norm, ' ' -> "[SPACE]", tokenizer.json (EnTokenizer);
//   Multilingual: mtl_tts.punc_norm, lower(), NFKD, the language front-end, "[<lang>]" prefix,
//                 ' ' -> "[SPACE]", grapheme_mtl_merged_expanded_v1.json (MTLTokenizer);
// then [START] ... [STOP] around the ids (the F.pad of tts.generate).
//
// Long text: the reference has no limit but text_pos_emb has text_pos_emb_rows rows (2050), so a
// longer text would crash it. We split at sentence boundaries (then words) of the normalised
// text into several T3 requests of at most `max_tokens` ids each (SOT/EOT included), as
// T3TextEncoder does for Turbo. Each piece after the first of a multilingual text gets its own
// language tag.
//
// Characters the tokenizer has no token for: the reference feeds [UNK] for each. We do the same
// for symbols (emoji...), but refuse letters and digits (InvalidArgument naming them): text in a
// script the model does not speak would be all [UNK], i.e. garbage speech. Encoders built with
// allow_unknown (synthetic engines) accept everything.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/t3/t3_config.h"
#include "models/t3/t3_text.h"
#include "text/hf_tokenizer.h"
#include "text/language.h"

namespace chatterd {

class T3CfgTextEncoder {
 public:
  // Checks the tokenizer against the model: [START], [STOP] and [SPACE] exist, [START]/[STOP]
  // have the config's start/stop text ids, every id fits text_emb (< text_vocab_size), and a
  // multilingual tokenizer has the "[<code>]" tag of every language in text::kLanguages (an
  // English tokenizer.json under a multilingual checkpoint fails here). ModelFormatError
  // otherwise; Unsupported for a GPT-2 config.
  T3CfgTextEncoder(text::HfTokenizer tokenizer, const T3Config& config, bool allow_unknown = false);
  static T3CfgTextEncoder from_file(const std::filesystem::path& tokenizer_json,
                                    const T3Config& config);

  bool multilingual() const { return config_.is_multilingual; }

  // Most ids (SOT/EOT included) one request may carry: text_pos_emb_rows, and what the Llama
  // context leaves after cond + BOS BOS + max_gen_len.
  std::int64_t max_text_tokens(std::int64_t cond_length, std::int64_t max_gen_len) const;

  // `language`: required for multilingual (the reference's language_id), ignored by English.
  // Throws InvalidArgument for invalid UTF-8, a missing language, unencodable characters or
  // max_tokens < 3; Unsupported for a language front-end we lack (text/language.h).
  std::vector<T3TextChunk> encode(std::string_view raw_text, std::optional<text::Language> language,
                                  std::int64_t max_tokens) const;

  const text::HfTokenizer& tokenizer() const { return tokenizer_; }

 private:
  // Ids of one normalised piece, SOT/EOT included.
  std::vector<std::int64_t> ids_of(std::string_view normalized,
                                   std::optional<text::Language> language) const;

  text::HfTokenizer tokenizer_;
  T3Config config_;
  bool allow_unknown_ = false;
};

}  // namespace chatterd
