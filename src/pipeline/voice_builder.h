#pragma once
// build_voice: the reference's prepare_conditionals (tts_turbo.py / tts.py) + S3Gen.embed_ref on
// a decoded clip.
//   clip -> mono (channel mean) -> 24 kHz (soxr_hq, = librosa.load)
//   Turbo family: require > 5 s, loudness to -27 LUFS (skipped for silence, as the reference does)
//   24k -> 16k soxr_hq, full length: VoiceEncoder (trim top_db 20, linear mel, partials) and the
//     T3 prompt (first ENC_COND_LEN samples, S3Tokenizer max_len = speech_cond_prompt_len)
//   first DEC_COND_LEN (10 s) of the 24k wav: S3Gen prompt mel, and its torchaudio-resampled 16k ->
//     Kaldi fbank -> CAMPPlus x-vector, and S3Tokenizer tokens (no max_len) cut to F1 / 2
// Longer clips are cut exactly where the reference cuts them (the VE still sees the whole clip).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/audio_file.h"
#include "models/campplus/campplus.h"
#include "models/model_hparams.h"
#include "models/s3tokenizer/s3tokenizer.h"
#include "models/voice/voice_encoder.h"
#include "ops/exec_context.h"
#include "pipeline/voice.h"

namespace chatterd {

inline constexpr int kVoiceSampleRate = 24000;   // S3GEN_SR
inline constexpr int kVoiceTokenRate = 16000;    // S3_SR
inline constexpr double kTurboMinSeconds = 5.0;  // tts_turbo: assert len / sr > 5.0
// Below this the features the networks need are too short to mean anything (and CAMPPlus needs
// >= 3 fbank frames); the reference has no explicit minimum for the standard family.
inline constexpr double kStandardMinSeconds = 1.0;
inline constexpr double kTurboTargetLufs = -27.0;
inline constexpr std::int64_t kDecCondSamples = 10 * kVoiceSampleRate;  // DEC_COND_LEN
// Upper bounds on what build_voice reads: bytes of an encoded file and decoded seconds.
inline constexpr std::uintmax_t kMaxClipFileBytes = 2ull << 30;
inline constexpr double kMaxClipSeconds = 600.0;

// ENC_COND_LEN in 16 kHz samples: 15 s (Turbo/Nano), 6 s (English/Multilingual).
std::int64_t enc_cond_samples(VoiceFamily family);
double min_clip_seconds(VoiceFamily family);

// The three conditioning networks of one model (+ the weights they view).
struct VoiceModels {
  ModelHparams hp;
  std::shared_ptr<const WeightStore> ve_weights, s3gen_weights;
  std::shared_ptr<const VoiceEncoder> ve;
  std::shared_ptr<const CampPlus> campplus;
  std::shared_ptr<const S3Tokenizer> tokenizer;

  // ve.safetensors (or ve.pt) and the s3gen file (speaker_encoder.*, tokenizer.*) of `dir`, with
  // hparams.json overrides. Throws IoError / ModelFormatError naming the missing file.
  static VoiceModels load(const std::filesystem::path& dir, Variant variant);
  // Seeded random weights of the variant's real dimensions (benchmarks).
  static VoiceModels synthetic(Variant variant, std::uint64_t seed = 1);
};

// Every intermediate of one build (the cond_pipeline golden's stages), for parity and debugging.
struct VoiceBuildTrace {
  double lufs = 0.0;
  double gain_linear = 1.0;
  bool loudness_applied = false;
  std::vector<float> wav24k;         // after mono/resample/loudness, full length
  std::vector<float> librosa16k;     // soxr_hq 16k of wav24k
  std::vector<float> torchaudio16k;  // torchaudio 16k of wav24k[:DEC_COND_LEN]
  std::int64_t trim_start = 0, trim_end = 0;
  Tensor ve_mel;            // (T, 40)
  Tensor ve_partials;       // (n, 256)
  Tensor fbank;             // (T, 80), mean removed
  Tensor t3_log_mel;        // (128, T) cut to 4 * speech_cond_prompt_len frames
  Tensor embed_ref_tokens;  // i32 (1, T') before the F1 / 2 cut
};

// `audio` at any rate / channel count. Throws InvalidArgument with the minimum for a too-short
// clip, for non-finite samples and for clips over kMaxClipSeconds.
Voice build_voice(const ExecContext& ctx, const VoiceModels& models, const AudioData& audio,
                  std::string name, VoiceBuildTrace* trace = nullptr);

// Checks the file size (kMaxClipFileBytes) before decoding, then reads with max_seconds.
AudioData read_voice_clip(const std::filesystem::path& path);
AudioData read_voice_clip(std::span<const std::byte> bytes, std::string_view name);

}  // namespace chatterd
