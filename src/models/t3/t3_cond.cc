#include "models/t3/t3_cond.h"

#include <string>

#include "core/check.h"
#include "ops/convert.h"
#include "weights/torch_pt.h"

namespace chatterd {
namespace {

constexpr std::string_view kSpeakerEmb = "t3.speaker_emb";
constexpr std::string_view kPromptTokens = "t3.cond_prompt_speech_tokens";
constexpr std::string_view kPromptEmb = "t3.cond_prompt_speech_emb";
constexpr std::string_view kEmotionAdv = "t3.emotion_adv";

bool is_float(DType d) {
  return d == DType::F32 || d == DType::F16 || d == DType::BF16;
}

// Drops a leading batch dimension of 1: [1, ...] -> [...].
Tensor squeeze_batch(const Tensor& t) {
  if (t.rank() >= 2 && t.dim(0) == 1) return t.select0(0);
  return t;
}

}  // namespace

void validate_t3_cond(const T3Cond& cond, const T3Config& config) {
  CHATTERD_CHECK(cond.speaker_emb.defined() && cond.speaker_emb.dtype() == DType::F32 &&
                     cond.speaker_emb.shape() == Shape({1, config.speaker_embed_size}),
                 InvalidArgument, "T3 conditioning: speaker_emb must be f32 [1, {}], got {}",
                 config.speaker_embed_size, cond.speaker_emb.to_string());
  for (std::size_t i = 0; i < cond.prompt_tokens.size(); ++i) {
    const std::int64_t id = cond.prompt_tokens[i];
    CHATTERD_CHECK(id >= 0 && id < config.speech_vocab_size, InvalidArgument,
                   "T3 conditioning: prompt speech token {} at position {} is outside the speech "
                   "vocabulary [0, {})",
                   id, i, config.speech_vocab_size);
  }
  if (cond.prompt_emb.defined() && cond.prompt_emb.numel() > 0) {
    CHATTERD_CHECK(cond.prompt_emb.dtype() == DType::F32 && cond.prompt_emb.rank() == 2 &&
                       cond.prompt_emb.dim(1) == config.hidden_size,
                   InvalidArgument, "T3 conditioning: prompt_emb must be f32 [P, {}], got {}",
                   config.hidden_size, cond.prompt_emb.to_string());
  }
}

T3Cond t3_cond_from_file(const TensorFile& file, const T3Config& config, std::string_view label) {
  const ExecContext ctx;
  T3Cond cond;

  CHATTERD_CHECK(file.contains(kSpeakerEmb), ModelFormatError, "{}: missing entry '{}'", label,
                 kSpeakerEmb);
  {
    const Tensor raw = file.get(kSpeakerEmb);
    const Tensor s = squeeze_batch(raw);
    CHATTERD_CHECK(is_float(raw.dtype()) && s.rank() == 1 && s.dim(0) == config.speaker_embed_size,
                   ModelFormatError, "{}: '{}' must be a float [1, {}] tensor, got {}", label,
                   kSpeakerEmb, config.speaker_embed_size, raw.to_string());
    ops::convert(ctx, s.reshape({1, config.speaker_embed_size}), DType::F32, cond.speaker_emb);
    if (cond.speaker_emb.raw_data() == s.raw_data()) cond.speaker_emb = cond.speaker_emb.clone();
  }

  CHATTERD_CHECK(file.contains(kPromptTokens), ModelFormatError, "{}: missing entry '{}'", label,
                 kPromptTokens);
  {
    const Tensor raw = file.get(kPromptTokens);
    const Tensor t = squeeze_batch(raw);
    CHATTERD_CHECK((raw.dtype() == DType::I64 || raw.dtype() == DType::I32) && t.rank() == 1,
                   ModelFormatError, "{}: '{}' must be an integer [1, P] tensor, got {}", label,
                   kPromptTokens, raw.to_string());
    cond.prompt_tokens.resize(static_cast<std::size_t>(t.numel()));
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      const std::int64_t id =
          t.dtype() == DType::I64 ? t.data<std::int64_t>()[i] : t.data<std::int32_t>()[i];
      CHATTERD_CHECK(id >= 0 && id < config.speech_vocab_size, ModelFormatError,
                     "{}: '{}' holds id {} at position {}, outside the speech vocabulary [0, {})",
                     label, kPromptTokens, id, i, config.speech_vocab_size);
      cond.prompt_tokens[static_cast<std::size_t>(i)] = id;
    }
  }

  // Optional: a precomputed prompt embedding (the reference uses it verbatim when present).
  if (file.contains(kPromptEmb)) {
    const Tensor raw = file.get(kPromptEmb);
    const Tensor e = squeeze_batch(raw);
    const auto p = static_cast<std::int64_t>(cond.prompt_tokens.size());
    CHATTERD_CHECK(is_float(raw.dtype()) && e.rank() == 2 && e.dim(1) == config.hidden_size,
                   ModelFormatError, "{}: '{}' must be a float [1, P, {}] tensor, got {}", label,
                   kPromptEmb, config.hidden_size, raw.to_string());
    CHATTERD_CHECK(e.dim(0) == p, ModelFormatError, "{}: '{}' has {} rows but '{}' has {} tokens",
                   label, kPromptEmb, e.dim(0), kPromptTokens, p);
    Tensor f32;
    ops::convert(ctx, e, DType::F32, f32);
    cond.prompt_emb = f32.raw_data() == e.raw_data() ? e.clone() : f32;
  }

  if (file.contains(kEmotionAdv)) {
    const Tensor raw = file.get(kEmotionAdv);
    CHATTERD_CHECK(is_float(raw.dtype()) && raw.numel() == 1, ModelFormatError,
                   "{}: '{}' must be one float, got {}", label, kEmotionAdv, raw.to_string());
    Tensor f32;
    ops::convert(ctx, raw, DType::F32, f32);
    cond.emotion_adv = f32.data<float>()[0];
  }
  return cond;
}

T3Cond load_t3_cond(const std::filesystem::path& conds_pt, const T3Config& config) {
  const auto file = TorchPtFile::open(conds_pt);
  return t3_cond_from_file(*file, config, conds_pt.string());
}

}  // namespace chatterd
