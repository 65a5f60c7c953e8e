#include "pipeline/voice_builder.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "audio/features.h"
#include "audio/loudness.h"
#include "audio/resample.h"
#include "audio/trim.h"
#include "core/check.h"
#include "core/logging.h"
#include "models/model_dir.h"
#include "models/synthetic_weights.h"
#include "weights/weight_store.h"

namespace chatterd {
namespace {

Tensor to_i64(const Tensor& ids, std::int64_t keep) {
  Tensor out = Tensor::empty(Shape({1, keep}), DType::I64);
  for (std::int64_t i = 0; i < keep; ++i) {
    out.data<std::int64_t>()[i] =
        ids.dtype() == DType::I32 ? ids.data<std::int32_t>()[i] : ids.data<std::int64_t>()[i];
  }
  return out;
}

// make_synthetic_weights draws U(-a, a) everywhere; BatchNorm variances must be positive or
// CAMPPlus produces NaN.
std::shared_ptr<const WeightStore> positive_variances(const std::shared_ptr<WeightStore>& raw) {
  std::map<std::string, Tensor, std::less<>> tensors;
  for (const auto& info : raw->tensors()) {
    Tensor t = raw->get_any(info.name);
    if (info.name.ends_with("running_var")) {
      t = t.clone();
      for (std::int64_t i = 0; i < t.numel(); ++i) {
        t.data<float>()[i] = 1.0f + std::fabs(t.data<float>()[i]);
      }
    }
    tensors.emplace(info.name, std::move(t));
  }
  return WeightStore::from_tensors(std::move(tensors), raw->label());
}

Tensor with_batch(const Tensor& t) {
  std::vector<std::int64_t> dims{1};
  for (int i = 0; i < t.rank(); ++i) dims.push_back(t.dim(i));
  return t.reshape(Shape(dims)).clone();
}

}  // namespace

std::int64_t enc_cond_samples(VoiceFamily family) {
  return (family == VoiceFamily::Turbo ? 15 : 6) * std::int64_t{kVoiceTokenRate};
}

double min_clip_seconds(VoiceFamily family) {
  return family == VoiceFamily::Turbo ? kTurboMinSeconds : kStandardMinSeconds;
}

VoiceModels VoiceModels::load(const std::filesystem::path& dir, Variant variant) {
  VoiceModels m;
  m.hp = load_hparams(dir, variant);
  const ModelDir md = ModelDir::scan(dir, variant);
  const auto ve_path = md.find(ModelComponent::VoiceEncoder);
  const auto s3_path = md.find(ModelComponent::S3Gen);
  CHATTERD_CHECK(ve_path.has_value(), IoError,
                 "{}: no voice encoder file (ve.safetensors or ve.pt)", dir.string());
  CHATTERD_CHECK(s3_path.has_value(), IoError, "{}: no s3gen file for {}", dir.string(),
                 variant_name(variant));
  m.ve_weights = WeightStore::open(*ve_path);
  m.s3gen_weights = WeightStore::open(*s3_path);
  m.ve = std::make_shared<const VoiceEncoder>(*m.ve_weights, m.hp.ve);
  m.campplus = std::make_shared<const CampPlus>(*m.s3gen_weights, m.hp.campplus);
  m.tokenizer = std::make_shared<const S3Tokenizer>(*m.s3gen_weights, m.hp.s3tokenizer);
  return m;
}

VoiceModels VoiceModels::synthetic(Variant variant, std::uint64_t seed) {
  VoiceModels m;
  m.hp = ModelHparams::defaults(variant);
  const auto ve_specs = voice_encoder_tensor_specs(m.hp.ve);
  std::vector<TensorSpec> s3_specs = campplus_tensor_specs(m.hp.campplus);
  const auto tok_specs = s3tokenizer_tensor_specs(m.hp.s3tokenizer);
  s3_specs.insert(s3_specs.end(), tok_specs.begin(), tok_specs.end());
  m.ve_weights = make_synthetic_weights(ve_specs, seed, "synthetic:ve");
  m.s3gen_weights =
      positive_variances(make_synthetic_weights(s3_specs, seed + 1, "synthetic:s3gen-cond"));
  m.ve = std::make_shared<const VoiceEncoder>(*m.ve_weights, m.hp.ve);
  m.campplus = std::make_shared<const CampPlus>(*m.s3gen_weights, m.hp.campplus);
  m.tokenizer = std::make_shared<const S3Tokenizer>(*m.s3gen_weights, m.hp.s3tokenizer);
  return m;
}

Voice build_voice(const ExecContext& ctx, const VoiceModels& models, const AudioData& audio,
                  std::string name, VoiceBuildTrace* trace) {
  const VoiceFamily family = voice_family(models.hp.variant);
  CHATTERD_CHECK(audio.channels >= 1 && audio.sample_rate_hz > 0 && audio.frames() > 0,
                 InvalidArgument, "voice '{}': empty or malformed audio ({} ch, {} Hz, {} frames)",
                 name, audio.channels, audio.sample_rate_hz, audio.frames());
  CHATTERD_CHECK(audio.seconds() <= kMaxClipSeconds, InvalidArgument,
                 "voice '{}': the clip lasts {:.1f} s, more than the {:.0f} s accepted", name,
                 audio.seconds(), kMaxClipSeconds);
  for (std::size_t i = 0; i < audio.samples.size(); ++i) {
    CHATTERD_CHECK(std::isfinite(audio.samples[i]), InvalidArgument,
                   "voice '{}': sample {} is not finite", name, i);
  }

  // librosa.load(path, sr=24000): channel mean, then soxr_hq to 24 kHz.
  std::vector<float> wav = mix_to_mono(audio);
  if (audio.sample_rate_hz != kVoiceSampleRate) {
    wav = audio::resample_soxr(wav, audio.sample_rate_hz, kVoiceSampleRate);
  }
  const double seconds = static_cast<double>(wav.size()) / kVoiceSampleRate;
  const double min_seconds = min_clip_seconds(family);
  CHATTERD_CHECK(seconds > min_seconds, InvalidArgument,
                 "voice '{}': the reference clip lasts {:.2f} s; {} voices need more than {:.1f} s",
                 name, seconds, voice_family_name(family), min_seconds);

  audio::LoudnessNormalization loud;
  if (family == VoiceFamily::Turbo) {
    loud = audio::normalize_loudness(wav, kVoiceSampleRate, kTurboTargetLufs);
    if (!loud.applied) {
      logger().warn("voice '{}': loudness {} LUFS, no gain applied (silent clip?)", name,
                    loud.lufs);
    }
  }

  const std::vector<float> lib16 = audio::resample_soxr(wav, kVoiceSampleRate, kVoiceTokenRate);
  if (static_cast<std::int64_t>(wav.size()) > kDecCondSamples) {
    logger().info(
        "voice '{}': {:.1f} s clip; S3Gen uses its first 10 s, the T3 prompt its first {} s", name,
        seconds, enc_cond_samples(family) / kVoiceTokenRate);
  }
  const std::span<const float> dec(wav.data(),
                                   static_cast<std::size_t>(std::min<std::int64_t>(
                                       static_cast<std::int64_t>(wav.size()), kDecCondSamples)));

  Voice v;
  v.name = std::move(name);
  v.family = family;
  v.source_sample_rate = audio.sample_rate_hz;
  v.builder_version = kVoiceBuilderVersion;

  // S3Gen.embed_ref: prompt mel at 24 kHz; torchaudio 16k -> x-vector and tokens.
  v.gen_feat =
      with_batch(audio::s3gen_prompt_feat(ctx, dec, static_cast<int>(models.hp.s3gen.mel_bins)));
  const std::vector<float> ta16 =
      audio::resample_torchaudio(dec, kVoiceSampleRate, kVoiceTokenRate);
  const Tensor fbank = audio::kaldi_fbank(ctx, ta16, static_cast<int>(models.hp.campplus.feat_dim));
  v.gen_embedding = models.campplus->embed(ctx, fbank).clone();
  const Tensor ref_mel =
      audio::s3tokenizer_log_mel(ctx, ta16, static_cast<int>(models.hp.s3tokenizer.n_mels));
  const Tensor ref_tokens = models.tokenizer->tokenize(ctx, ref_mel);
  const std::int64_t f1 = v.gen_feat.dim(1);
  const std::int64_t ratio = models.hp.s3gen.token_mel_ratio;
  std::int64_t keep = ref_tokens.dim(1);
  if (f1 != ratio * keep) keep = std::min(keep, f1 / ratio);  // embed_ref only ever cuts
  v.gen_tokens = to_i64(ref_tokens, keep);

  // T3 prompt tokens: the first ENC_COND_LEN samples of the soxr 16k signal, max_len P.
  const std::int64_t plen = models.hp.t3.speech_cond_prompt_len;
  Tensor t3_mel;
  if (plen > 0) {
    const std::span<const float> enc(
        lib16.data(), static_cast<std::size_t>(std::min<std::int64_t>(
                          static_cast<std::int64_t>(lib16.size()), enc_cond_samples(family))));
    t3_mel = audio::s3tokenizer_log_mel(ctx, enc, static_cast<int>(models.hp.s3tokenizer.n_mels),
                                        static_cast<int>(4 * plen));
    const Tensor t = models.tokenizer->tokenize(ctx, t3_mel, plen);
    v.prompt_tokens = to_i64(t, t.dim(1));
  } else {
    v.prompt_tokens = Tensor::empty(Shape({1, 0}), DType::I64);
  }

  // VoiceEncoder on the whole soxr 16k signal, silence-trimmed.
  const audio::TrimRange r = audio::trim_silence(lib16);
  const Tensor ve_mel = audio::ve_mel(
      ctx,
      std::span<const float>(lib16).subspan(static_cast<std::size_t>(r.start),
                                            static_cast<std::size_t>(r.end - r.start)),
      static_cast<int>(models.hp.ve.num_mels));
  const Tensor partials = models.ve->partial_embeds(ctx, ve_mel);
  v.speaker_emb = VoiceEncoder::reduce_partials(partials).clone();

  validate_voice(v, v.name);
  if (trace != nullptr) {
    trace->lufs = loud.lufs;
    trace->gain_linear = loud.gain_linear;
    trace->loudness_applied = loud.applied;
    trace->wav24k = wav;
    trace->librosa16k = lib16;
    trace->torchaudio16k = ta16;
    trace->trim_start = r.start;
    trace->trim_end = r.end;
    trace->ve_mel = ve_mel;
    trace->ve_partials = partials;
    trace->fbank = fbank;
    trace->t3_log_mel = t3_mel;
    trace->embed_ref_tokens = ref_tokens;
  }
  return v;
}

AudioData read_voice_clip(const std::filesystem::path& path) {
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  CHATTERD_CHECK(!ec, IoError, "{}: cannot read the clip: {}", path.string(), ec.message());
  CHATTERD_CHECK(size <= kMaxClipFileBytes, InvalidArgument,
                 "{}: the clip file has {} bytes, more than the {} accepted", path.string(), size,
                 kMaxClipFileBytes);
  return read_audio(path, {.max_seconds = kMaxClipSeconds});
}

AudioData read_voice_clip(std::span<const std::byte> bytes, std::string_view name) {
  CHATTERD_CHECK(bytes.size() <= kMaxClipFileBytes, InvalidArgument,
                 "{}: the clip has {} bytes, more than the {} accepted", name, bytes.size(),
                 kMaxClipFileBytes);
  return read_audio(bytes, name, {.max_seconds = kMaxClipSeconds});
}

}  // namespace chatterd
