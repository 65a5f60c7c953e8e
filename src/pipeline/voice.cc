#include "pipeline/voice.h"

#include <fmt/ranges.h>

#include <cmath>
#include <set>

#include "core/check.h"
#include "ops/convert.h"
#include "weights/safetensors.h"
#include "weights/safetensors_writer.h"
#include "weights/torch_pt.h"

namespace chatterd {
namespace {

constexpr std::int64_t kSpeechVocab = 6561;  // S3 tokens: 3^8 FSQ codes
constexpr std::int64_t kTokenMelRatio = 2;   // S3Gen: mel frames per token (fixed structure)

constexpr const char* kSpeakerEmb = "t3.speaker_emb";
constexpr const char* kPromptTokens = "t3.cond_prompt_speech_tokens";
constexpr const char* kGenTokens = "gen.prompt_token";
constexpr const char* kGenFeat = "gen.prompt_feat";
constexpr const char* kGenEmbedding = "gen.embedding";

// Any float/int dtype and [N] or [1, N] (conds.pt layouts) -> owned `dtype` (1, N...).
Tensor normalize(const Tensor& t, DType dtype, int rank, const std::string& label,
                 const char* key) {
  CHATTERD_CHECK(t.defined(), ModelFormatError, "{}: '{}' is missing", label, key);
  Tensor x = t;
  if (x.rank() == rank - 1) {
    std::vector<std::int64_t> dims{1};
    for (int i = 0; i < x.rank(); ++i) dims.push_back(x.dim(i));
    x = x.reshape(Shape(dims));
  }
  CHATTERD_CHECK(x.rank() == rank && x.dim(0) == 1, ModelFormatError,
                 "{}: '{}' must have rank {} with batch 1, got {}", label, key, rank,
                 t.to_string());
  const bool want_float = dtype == DType::F32;
  const bool is_int = x.dtype() == DType::I64 || x.dtype() == DType::I32;
  CHATTERD_CHECK(want_float ? dtype_is_float(x.dtype()) : is_int, ModelFormatError,
                 "{}: '{}' must be {}, got {}", label, key, want_float ? "float" : "integer",
                 t.to_string());
  if (!want_float) {
    Tensor out = Tensor::empty(x.shape(), DType::I64);
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      out.data<std::int64_t>()[i] =
          x.dtype() == DType::I32 ? x.data<std::int32_t>()[i] : x.data<std::int64_t>()[i];
    }
    return out;
  }
  Tensor out;
  ops::convert(ExecContext{}, x, dtype, out);
  if (out.raw_data() == x.raw_data()) out = out.clone();
  return out;
}

}  // namespace

VoiceFamily voice_family(Variant variant) {
  return is_turbo_family(variant) ? VoiceFamily::Turbo : VoiceFamily::Standard;
}

std::string_view voice_family_name(VoiceFamily family) {
  return family == VoiceFamily::Turbo ? "turbo" : "standard";
}

VoiceFamily parse_voice_family(std::string_view name) {
  if (name == "turbo") return VoiceFamily::Turbo;
  if (name == "standard") return VoiceFamily::Standard;
  CHATTERD_THROW(ModelFormatError, "unknown voice family '{}' (expected turbo or standard)", name);
}

T3Cond Voice::t3_cond(float exaggeration) const {
  T3Cond c;
  c.speaker_emb = speaker_emb;
  const std::int64_t* ids = prompt_tokens.data<std::int64_t>();
  c.prompt_tokens.assign(ids, ids + prompt_tokens.numel());
  c.emotion_adv = exaggeration;
  return c;
}

S3GenPrompt Voice::s3gen_prompt() const {
  return {gen_tokens, gen_feat, gen_embedding};
}

void validate_voice(const Voice& v, std::string_view label) {
  const auto check_float = [&](const Tensor& t, int rank, const char* key) {
    CHATTERD_CHECK(t.defined() && t.dtype() == DType::F32 && t.rank() == rank && t.dim(0) == 1,
                   ModelFormatError, "{}: '{}' must be f32 of rank {} with batch 1, got {}", label,
                   key, rank, t.defined() ? t.to_string() : std::string("nothing"));
    CHATTERD_CHECK(t.dim(rank - 1) > 0, ModelFormatError, "{}: '{}' is empty ({})", label, key,
                   t.to_string());
    const float* p = t.data<float>();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      CHATTERD_CHECK(std::isfinite(p[i]), ModelFormatError,
                     "{}: '{}' holds a non-finite value at {}", label, key, i);
    }
  };
  const auto check_ids = [&](const Tensor& t, const char* key) {
    CHATTERD_CHECK(t.defined() && t.dtype() == DType::I64 && t.rank() == 2 && t.dim(0) == 1,
                   ModelFormatError, "{}: '{}' must be i64 (1, N), got {}", label, key,
                   t.defined() ? t.to_string() : std::string("nothing"));
    const std::int64_t* p = t.data<std::int64_t>();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      CHATTERD_CHECK(p[i] >= 0 && p[i] < kSpeechVocab, ModelFormatError,
                     "{}: '{}'[{}] = {} is outside the speech vocabulary [0, {})", label, key, i,
                     p[i], kSpeechVocab);
    }
  };
  check_float(v.speaker_emb, 2, kSpeakerEmb);
  check_ids(v.prompt_tokens, kPromptTokens);
  check_ids(v.gen_tokens, kGenTokens);
  check_float(v.gen_feat, 3, kGenFeat);
  check_float(v.gen_embedding, 2, kGenEmbedding);
  CHATTERD_CHECK(v.gen_feat.dim(1) >= kTokenMelRatio * v.gen_tokens.dim(1), ModelFormatError,
                 "{}: '{}' has {} frames, fewer than {} x {} prompt tokens", label, kGenFeat,
                 v.gen_feat.dim(1), kTokenMelRatio, v.gen_tokens.dim(1));
}

void check_voice_fits(const Voice& v, const ModelHparams& hp) {
  validate_voice(v, v.name);
  CHATTERD_CHECK(v.family == voice_family(hp.variant), InvalidArgument,
                 "voice '{}' was built for the {} family; the {} model needs a {} voice", v.name,
                 voice_family_name(v.family), variant_name(hp.variant),
                 voice_family_name(voice_family(hp.variant)));
  CHATTERD_CHECK(v.speaker_emb.dim(1) == hp.t3.speaker_embed_size, InvalidArgument,
                 "voice '{}': speaker_emb width {} != model's {}", v.name, v.speaker_emb.dim(1),
                 hp.t3.speaker_embed_size);
  CHATTERD_CHECK(v.prompt_tokens.dim(1) <= hp.t3.speech_cond_prompt_len, InvalidArgument,
                 "voice '{}': {} prompt tokens > the model's speech_cond_prompt_len {}", v.name,
                 v.prompt_tokens.dim(1), hp.t3.speech_cond_prompt_len);
  CHATTERD_CHECK(v.gen_feat.dim(2) == hp.s3gen.mel_bins, InvalidArgument,
                 "voice '{}': prompt_feat has {} mel bins, the model {}", v.name, v.gen_feat.dim(2),
                 hp.s3gen.mel_bins);
  CHATTERD_CHECK(v.gen_embedding.dim(1) == hp.s3gen.spk_embed_dim, InvalidArgument,
                 "voice '{}': embedding width {} != model's spk_embed_dim {}", v.name,
                 v.gen_embedding.dim(1), hp.s3gen.spk_embed_dim);
}

Voice load_voice_from_conds(const std::filesystem::path& conds_pt, Variant variant,
                            std::string name) {
  const auto file = TorchPtFile::open(conds_pt);
  const std::string label = conds_pt.string();
  const auto get = [&](const char* key) {
    CHATTERD_CHECK(file->contains(key), ModelFormatError, "{}: missing entry '{}'", label, key);
    return file->get(key);
  };
  Voice v;
  v.name = std::move(name);
  v.family = voice_family(variant);
  v.speaker_emb = normalize(get(kSpeakerEmb), DType::F32, 2, label, kSpeakerEmb);
  v.prompt_tokens = normalize(get(kPromptTokens), DType::I64, 2, label, kPromptTokens);
  v.gen_tokens = normalize(get(kGenTokens), DType::I64, 2, label, kGenTokens);
  v.gen_feat = normalize(get(kGenFeat), DType::F32, 3, label, kGenFeat);
  v.gen_embedding = normalize(get(kGenEmbedding), DType::F32, 2, label, kGenEmbedding);
  validate_voice(v, label);
  return v;
}

void save_voice(const Voice& v, const std::filesystem::path& path) {
  validate_voice(v, v.name);
  SafetensorsContents c;
  c.tensors = {{kSpeakerEmb, v.speaker_emb},
               {kPromptTokens, v.prompt_tokens},
               {kGenTokens, v.gen_tokens},
               {kGenFeat, v.gen_feat},
               {kGenEmbedding, v.gen_embedding}};
  c.metadata = {{"format", kVoiceFormatName},
                {"format_version", std::to_string(kVoiceFormatVersion)},
                {"name", v.name},
                {"family", std::string(voice_family_name(v.family))},
                {"source_sha256", v.source_sha256},
                {"source_sample_rate", std::to_string(v.source_sample_rate)},
                {"builder_version", std::to_string(v.builder_version)}};
  write_safetensors(path, c);
}

Voice load_voice(const std::filesystem::path& path) {
  const std::string label = path.string();
  std::unique_ptr<SafetensorsFile> file;
  try {
    file = SafetensorsFile::open(path);
  } catch (const ModelFormatError& e) {
    CHATTERD_THROW(ModelFormatError, "{}: not a chatterd voice file ({})", label, e.what());
  }
  const auto& meta = file->metadata();
  const auto field = [&](const char* key) -> const std::string& {
    const auto it = meta.find(key);
    CHATTERD_CHECK(it != meta.end(), ModelFormatError,
                   "{}: not a chatterd voice file (metadata '{}' missing)", label, key);
    return it->second;
  };
  const auto int_field = [&](const char* key) {
    const std::string& s = field(key);
    std::size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    CHATTERD_CHECK(used == s.size() && !s.empty(), ModelFormatError,
                   "{}: metadata '{}' = '{}' is not an integer", label, key, s);
    return value;
  };
  CHATTERD_CHECK(field("format") == kVoiceFormatName, ModelFormatError,
                 "{}: format '{}' is not '{}'", label, field("format"), kVoiceFormatName);
  const int version = int_field("format_version");
  CHATTERD_CHECK(version == kVoiceFormatVersion, ModelFormatError,
                 "{}: voice format version {} is not supported (this build reads {})", label,
                 version, kVoiceFormatVersion);
  Voice v;
  v.name = field("name");
  v.family = parse_voice_family(field("family"));
  v.source_sha256 = field("source_sha256");
  v.source_sample_rate = int_field("source_sample_rate");
  v.builder_version = int_field("builder_version");

  const std::set<std::string> expected{kSpeakerEmb, kPromptTokens, kGenTokens, kGenFeat,
                                       kGenEmbedding};
  std::set<std::string> present;
  for (const TensorInfo& info : file->tensors()) present.insert(info.name);
  for (const auto& [name, dtype] : file->unsupported()) present.insert(name);
  CHATTERD_CHECK(present == expected, ModelFormatError,
                 "{}: expected exactly the tensors t3.speaker_emb, t3.cond_prompt_speech_tokens, "
                 "gen.prompt_token, gen.prompt_feat, gen.embedding; found {}",
                 label, fmt::format("{}", fmt::join(present, ", ")));
  const auto exact = [&](const char* key, DType dtype) {
    Tensor t = file->get(key);
    CHATTERD_CHECK(t.dtype() == dtype, ModelFormatError, "{}: '{}' must be {}, got {}", label, key,
                   dtype_name(dtype), t.to_string());
    return t.clone();  // the file mapping goes away with `file`
  };
  v.speaker_emb = exact(kSpeakerEmb, DType::F32);
  v.prompt_tokens = exact(kPromptTokens, DType::I64);
  v.gen_tokens = exact(kGenTokens, DType::I64);
  v.gen_feat = exact(kGenFeat, DType::F32);
  v.gen_embedding = exact(kGenEmbedding, DType::F32);
  validate_voice(v, label);
  return v;
}

}  // namespace chatterd
