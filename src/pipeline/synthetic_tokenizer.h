#pragma once
// The GPT-2 tokenizer of a synthetic Turbo/Nano engine (`synthetic:turbo`, `synthetic:nano`): the
// real vocabulary size, the 256 byte tokens, and BPE merges that join letters into pieces of up
// to three (four with the leading space). The real vocabulary holds whole words, which 50k
// entries of letter pieces cannot: the standard benchmark texts take 1.7-2x the real GPT-2
// tokens (bytes: ~4x; tests/unit/pipeline/synthetic_tokenizer_test.cc compares them), so a
// synthetic prefill is close to the real one and never cheaper.

#include <cstdint>

#include "text/gpt2_tokenizer.h"

namespace chatterd {

// Throws InvalidArgument when vocab_size cannot hold the pieces.
text::Gpt2Tokenizer synthetic_gpt2_tokenizer(std::int64_t vocab_size);

}  // namespace chatterd
