#pragma once
// Text -> T3 text-token ids for Turbo/Nano: tts_turbo.punc_norm, then the GPT-2 BPE tokenizer
// (no BOS/EOS/SOT/EOT).
//
// Long text: the reference tokenises with truncation=True, silently cutting at the tokenizer's
// model_max_length (1024) -- and the sequence must also fit GPT-2's wpe table together with the
// conditioning and the generated speech tokens. We never truncate: text whose ids exceed the
// limit is split at sentence boundaries (". ", "! ", "? " and the like after punc_norm) into
// several T3 requests, each at most `max_tokens` ids, packing whole sentences greedily; a single
// sentence that is still too long is split between words, and a single word longer than the
// limit is cut between tokens. The caller synthesises the chunks one after the other.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "models/t3/t3_config.h"
#include "text/gpt2_tokenizer.h"

namespace chatterd {

struct T3TextChunk {
  std::string text;               // the normalised text of this request
  std::vector<std::int64_t> ids;  // its token ids (non-empty)
};

// The greedy splitting both text encoders share: the whole text when its ids fit in `max_ids`;
// else sentences (split after runs of . ! ? followed by a space), then words, packed into chunks
// that fit. A single word longer than the limit goes to `cut_word` with its ids, which appends
// the pieces (the encoders differ there: Turbo decodes each piece, English re-wraps SOT/EOT).
using TextIdsFn = std::function<std::vector<std::int64_t>(std::string_view)>;
using CutWordFn = std::function<void(std::string_view word, const std::vector<std::int64_t>& ids,
                                     std::vector<T3TextChunk>& out)>;
std::vector<T3TextChunk> pack_text_chunks(std::string normalized, std::size_t max_ids,
                                          const TextIdsFn& ids_of, const CutWordFn& cut_word);

class T3TextEncoder {
 public:
  // Throws ModelFormatError when the tokenizer's size differs from config.text_vocab_size, and
  // Unsupported for a non-GPT-2 (English/Multilingual) config.
  T3TextEncoder(text::Gpt2Tokenizer tokenizer, const T3Config& config);
  // The tokenizer files in `dir` (vocab.json + merges.txt + added tokens, or tokenizer.json).
  static T3TextEncoder from_dir(const std::filesystem::path& dir, const T3Config& config);

  // Most text ids one request may carry: min(tokenizer model_max_length, wpe rows - cond_length
  // - 1 (BOS) - (max_gen_len + 1) generated tokens). Throws InvalidArgument when nothing fits.
  std::int64_t max_text_tokens(std::int64_t cond_length, std::int64_t max_gen_len) const;

  // punc_norm(turbo) + encode, split as described above into chunks of <= max_tokens ids. Empty
  // text becomes the reference's "You need to add some text for me to talk.". Throws
  // InvalidArgument for invalid UTF-8 (with the byte offset) or max_tokens < 1.
  std::vector<T3TextChunk> encode(std::string_view raw_text, std::int64_t max_tokens) const;

  const text::Gpt2Tokenizer& tokenizer() const { return tokenizer_; }

 private:
  std::vector<std::int64_t> ids_of(std::string_view text) const;

  text::Gpt2Tokenizer tokenizer_;
  T3Config config_;
};

}  // namespace chatterd
