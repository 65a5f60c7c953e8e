#pragma once
// T3 conditioning inputs (the reference's T3Cond) and their loading from a model directory's
// conds.pt (`Conditionals.save`: {'t3': T3Cond.__dict__, 'gen': ...}, flattened by TorchPtFile to
// "t3.speaker_emb", "t3.cond_prompt_speech_tokens", ...).

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "chatterd/core/tensor.h"
#include "models/t3/t3_config.h"
#include "weights/tensor_file.h"

namespace chatterd {

struct T3Cond {
  Tensor speaker_emb;                       // f32 [1, speaker_embed_size] (VoiceEncoder output)
  std::vector<std::int64_t> prompt_tokens;  // cond_prompt_speech_tokens, ids in the speech vocab
  // cond_prompt_speech_emb when the file carries one: f32 [P, d]; the reference then uses it as
  // is instead of embedding prompt_tokens. Undefined (default) in the shipped conds.pt files.
  Tensor prompt_emb;
  float emotion_adv = 0.5f;  // exaggeration (English/Multilingual only)
};

// Throws InvalidArgument naming the field when `cond` does not fit `config`: speaker_emb not
// f32 [1, speaker_embed_size], prompt ids outside [0, speech_vocab_size), prompt_emb of a wrong
// shape.
void validate_t3_cond(const T3Cond& cond, const T3Config& config);

// Reads the "t3.*" entries of a conds.pt (any TensorFile with those names). speaker_emb may be
// stored f32/f16/bf16 ([1, S] or [S]); the prompt tokens i64/i32 ([1, P] or [P]). Throws
// ModelFormatError naming `label`, the entry and what was found for a missing entry, a wrong
// dtype or shape, or ids outside the speech vocabulary.
T3Cond t3_cond_from_file(const TensorFile& file, const T3Config& config, std::string_view label);
T3Cond load_t3_cond(const std::filesystem::path& conds_pt, const T3Config& config);

}  // namespace chatterd
