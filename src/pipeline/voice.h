#pragma once
// A cloned voice: everything one synthesis needs from a reference clip (the reference's
// `Conditionals` minus the per-request exaggeration), plus where it came from.
//   T3 part:    speaker_emb f32 (1, S) (VoiceEncoder), prompt_tokens i64 (1, P) (S3Tokenizer of the
//               librosa-resampled 16 kHz clip, P <= speech_cond_prompt_len)
//   S3Gen part: prompt_token i64 (1, Tp), prompt_feat f32 (1, F1, mel) and embedding f32 (1, E)
//               (CAMPPlus x-vector), from S3Gen.embed_ref
// Sources: a conds.pt written by the reference (`Conditionals.save`) or chatterd's own voice file,
// a safetensors file whose tensors carry the conds.pt names (t3.*, gen.*) and whose __metadata__
// says what it is (see kVoiceFormat*).

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "chatterd/core/tensor.h"
#include "models/model_hparams.h"
#include "models/s3gen/s3gen_flow.h"
#include "models/t3/t3_cond.h"
#include "models/variant.h"

namespace chatterd {

// The conditioning recipe differs only between these two (tts_turbo.py vs tts.py / mtl_tts.py):
// Turbo/Nano normalise loudness, need > 5 s and take a 15 s prompt of 375 tokens; English and
// Multilingual take 6 s / 150 tokens. A voice built for one family is refused by the other.
enum class VoiceFamily { Turbo, Standard };
VoiceFamily voice_family(Variant variant);
std::string_view voice_family_name(VoiceFamily family);  // "turbo", "standard"
VoiceFamily parse_voice_family(std::string_view name);   // throws ModelFormatError

inline constexpr const char* kVoiceFormatName = "chatterd-voice";
inline constexpr int kVoiceFormatVersion = 1;
// Bumped whenever build_voice's output for the same clip changes; part of the cache key.
inline constexpr int kVoiceBuilderVersion = 1;

struct Voice {
  std::string name;
  VoiceFamily family = VoiceFamily::Turbo;
  Tensor speaker_emb;    // f32 (1, S)
  Tensor prompt_tokens;  // i64 (1, P), may be (1, 0)
  Tensor gen_tokens;     // i64 (1, Tp)
  Tensor gen_feat;       // f32 (1, F1, mel)
  Tensor gen_embedding;  // f32 (1, E)
  // Provenance (empty / 0 for a voice read from a conds.pt).
  std::string source_sha256;   // VoiceStore key of the clip it was built from
  int source_sample_rate = 0;  // rate of the decoded clip, before resampling
  int builder_version = 0;

  // The T3 conditioning for one request (exaggeration is per request).
  T3Cond t3_cond(float exaggeration = 0.5f) const;
  S3GenPrompt s3gen_prompt() const;
};

// Structural checks (dtypes, ranks, batch 1, finite floats, ids in [0, speech_vocab),
// F1 >= token_mel_ratio * Tp): throws ModelFormatError starting with `label`.
void validate_voice(const Voice& voice, std::string_view label);
// validate_voice + the widths and family the model `hp` needs: throws InvalidArgument.
void check_voice_fits(const Voice& voice, const ModelHparams& hp);

// The "t3.*" / "gen.*" entries of a reference conds.pt; family from `variant`.
Voice load_voice_from_conds(const std::filesystem::path& conds_pt, Variant variant,
                            std::string name);

// chatterd voice files. save: atomic (temp + rename). load: strict (format name and version,
// family, exactly the expected tensors, validate_voice); ModelFormatError / IoError naming the
// file.
void save_voice(const Voice& voice, const std::filesystem::path& path);
Voice load_voice(const std::filesystem::path& path);

}  // namespace chatterd
