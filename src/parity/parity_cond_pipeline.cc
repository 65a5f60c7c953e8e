// cond_pipeline goldens: the reference's prepare_conditionals on golden/ref.wav, run here through
// build_voice from the clip alone (every stage fed by our own previous stage). Whatever stages the
// golden holds are compared (turbo-tiny: all; english-tiny: final outputs). Sizes (prompt length,
// widths) come from the model directory's hparams; the variant from its T3 file.
#include <cmath>
#include <memory>

#include "core/check.h"
#include "core/thread_pool.h"
#include "io/audio_file.h"
#include "parity/golden_f64.h"
#include "parity/parity.h"
#include "pipeline/voice_builder.h"
#include "weights/safetensors.h"

namespace chatterd::parity {
namespace {

// Stage tolerances established by the DSP tests (tests/golden/audio_frontend_test.cc): resamplers
// and linear mels agree to ~1e-6; log features carry f32 FFT rounding in quiet bins
// (kF32Tolerance).
constexpr double kResampleSoxrTolerance = 1e-5;
constexpr double kResampleSincTolerance = 1e-6;
constexpr double kLinearMelTolerance = 1e-5;
constexpr double kLufsAbsTolerance = 1e-5;  // dB: pyloudnorm sums f32 squares in f32
constexpr double kGainRelTolerance = 2e-6;

Tensor vec(const std::vector<float>& v) {
  return Tensor::from_span<float>(v, Shape({static_cast<std::int64_t>(v.size())}));
}

Tensor transpose2(const Tensor& t) {
  const auto r = t.dim(0);
  const auto c = t.dim(1);
  Tensor out = Tensor::empty(Shape({c, r}), DType::F32);
  for (std::int64_t i = 0; i < r; ++i) {
    for (std::int64_t j = 0; j < c; ++j) out.data<float>()[j * r + i] = t.data<float>()[i * c + j];
  }
  return out;
}

Tensor with_batch(const Tensor& t) {
  std::vector<std::int64_t> dims{1};
  for (int i = 0; i < t.rank(); ++i) dims.push_back(t.dim(i));
  return t.reshape(Shape(dims));
}

Tensor i64_tensor(std::vector<std::int64_t> v) {
  return Tensor::from_span<std::int64_t>(v, Shape({static_cast<std::int64_t>(v.size())}));
}

ParityCheck scalar_check(std::string name, double actual, double expected, double tol,
                         bool relative) {
  ParityCheck c;
  c.name = std::move(name);
  c.max_abs_diff = std::abs(actual - expected);
  c.max_abs_ref = std::abs(expected);
  c.rel_error = relative && expected != 0.0 ? c.max_abs_diff / std::abs(expected) : c.max_abs_diff;
  c.tolerance = tol;
  c.passed = c.rel_error <= tol;
  c.note = fmt::format("actual {:.12g} expected {:.12g}", actual, expected);
  return c;
}

std::filesystem::path find_ref_wav(const std::filesystem::path& golden) {
  const std::filesystem::path candidates[] = {
      golden.parent_path() / "ref.wav",
      golden.parent_path().parent_path().parent_path() / "golden" / "ref.wav"};
  for (const auto& p : candidates) {
    if (std::filesystem::exists(p)) return p;
  }
  CHATTERD_THROW(IoError, "{}: cannot find the reference clip ref.wav (looked at {} and {})",
                 golden.string(), candidates[0].string(), candidates[1].string());
}

}  // namespace

ParityReport run_cond_pipeline_parity(const std::filesystem::path& model_dir,
                                      const std::filesystem::path& golden,
                                      const ParityOptions& options) {
  const auto file = SafetensorsFile::open(golden);
  ParityReport report(golden.string());
  ThreadPool pool(std::max(1, options.n_threads));
  ExecContext ctx;
  ctx.pool = options.n_threads > 1 ? &pool : nullptr;

  const Variant variant = detect_variant(model_dir);
  const VoiceModels models = VoiceModels::load(model_dir, variant);
  const AudioData clip = read_voice_clip(find_ref_wav(golden));
  VoiceBuildTrace trace;
  const Voice voice = build_voice(ctx, models, clip, "ref", &trace);

  const auto has = [&](const char* key) { return file->contains(key); };
  const auto g = [&](const char* key) { return file->get(key); };
  const auto& names = file->unsupported();  // f64 scalars live here
  if (names.count("loudness/lufs") != 0) {
    report.add(scalar_check("loudness/lufs", trace.lufs,
                            read_f64_tensor(golden, "loudness/lufs").at(0), kLufsAbsTolerance,
                            false));
    report.add(scalar_check("loudness/gain_linear", trace.gain_linear,
                            read_f64_tensor(golden, "loudness/gain_linear").at(0),
                            kGainRelTolerance, true));
  }
  if (has("resample_librosa_16k")) {
    report.compare("resample_librosa_16k", vec(trace.librosa16k), g("resample_librosa_16k"),
                   kResampleSoxrTolerance);
  }
  if (has("resample_torchaudio_16k")) {
    report.compare("resample_torchaudio_16k", vec(trace.torchaudio16k),
                   g("resample_torchaudio_16k"), kResampleSincTolerance);
  }
  if (has("ve/trim_index")) {
    report.compare_exact("ve/trim_index", i64_tensor({trace.trim_start, trace.trim_end}),
                         g("ve/trim_index"));
  }
  if (has("ve/mel"))
    report.compare("ve/mel", transpose2(trace.ve_mel), g("ve/mel"), kLinearMelTolerance);
  if (has("ve/num_partials")) {
    report.compare_exact("ve/num_partials", i64_tensor({trace.ve_partials.dim(0)}),
                         g("ve/num_partials"));
  }
  if (has("ve/partial_embeds") && trace.ve_partials.shape() == g("ve/partial_embeds").shape()) {
    report.compare("ve/partial_embeds", trace.ve_partials, g("ve/partial_embeds"));
  }
  if (has("ve/speaker_emb"))
    report.compare("ve/speaker_emb", voice.speaker_emb, g("ve/speaker_emb"));
  if (has("campplus/fbank")) {
    report.compare("campplus/fbank", with_batch(trace.fbank), g("campplus/fbank"));
  }
  if (has("campplus/xvector")) {
    report.compare("campplus/xvector", voice.gen_embedding, g("campplus/xvector"));
  }
  if (has("s3tok/embed_ref/tokens")) {
    report.compare_exact("s3tok/embed_ref/tokens", trace.embed_ref_tokens,
                         g("s3tok/embed_ref/tokens"));
  }
  if (has("s3tok/t3_prompt/log_mel")) {
    report.compare("s3tok/t3_prompt/log_mel", with_batch(trace.t3_log_mel),
                   g("s3tok/t3_prompt/log_mel"));
  }
  if (has("s3tok/t3_prompt/tokens")) {
    report.compare_exact("s3tok/t3_prompt/tokens", voice.prompt_tokens,
                         g("s3tok/t3_prompt/tokens"));
  }
  if (has("t3cond/cond_prompt_speech_tokens")) {
    report.compare_exact("t3cond/cond_prompt_speech_tokens", voice.prompt_tokens,
                         g("t3cond/cond_prompt_speech_tokens"));
  }
  if (has("t3cond/emotion_adv")) {
    const float e = g("t3cond/emotion_adv").data<float>()[0];
    const T3Cond c = voice.t3_cond(e);
    const std::vector<float> adv{c.emotion_adv};
    report.compare("t3cond/emotion_adv", Tensor::from_span<float>(adv, Shape({1, 1, 1})),
                   g("t3cond/emotion_adv"), 0.0);
  }
  if (has("gen/prompt_token")) {
    report.compare_exact("gen/prompt_token", voice.gen_tokens, g("gen/prompt_token"));
  }
  if (has("gen/prompt_token_len")) {
    report.compare_exact("gen/prompt_token_len", i64_tensor({voice.gen_tokens.dim(1)}),
                         g("gen/prompt_token_len"));
  }
  if (has("gen/prompt_feat"))
    report.compare("gen/prompt_feat", voice.gen_feat, g("gen/prompt_feat"));
  if (has("gen/embedding"))
    report.compare("gen/embedding", voice.gen_embedding, g("gen/embedding"));
  return report;
}

}  // namespace chatterd::parity
