#include "pipeline/chatterbox_engine.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <utility>

#include "core/check.h"
#include "core/rng.h"
#include "models/hift/hift.h"
#include "models/model_dir.h"
#include "models/t3/t3_generate.h"
#include "ops/layout.h"
#include "pipeline/voice_store.h"

namespace chatterd {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Text ids each request may carry, and the generation budget. The context must hold
// [cond | text | BOS | generated]. Real Turbo has 8196 positions, so the reference's 1000 tokens
// and the tokenizer's 1024 text ids always fit; for short contexts (tiny fixtures) the generation
// reserve used for splitting is capped at half the free room so that some text still fits.
struct Budget {
  std::int64_t max_gen_len = 0;      // the reference's max_gen_len (at most this + 1 tokens)
  std::int64_t max_text_tokens = 0;  // per text chunk
  std::int64_t room = 0;             // positions after cond + BOS
};

Budget make_budget(const T3Model& t3, const T3TextEncoder& text, const T3Cond& cond,
                   const SynthesisOptions& options) {
  Budget b;
  b.max_gen_len = options.max_speech_tokens ? *options.max_speech_tokens - 1
                                            : t3.config().generate.max_new_tokens;
  b.room = t3.max_positions() - t3.cond_length(cond) - 1;
  CHATTERD_CHECK(b.room >= 2, InvalidArgument,
                 "chatterbox: the voice's conditioning ({} rows) leaves no room in {} positions",
                 t3.cond_length(cond), t3.max_positions());
  const std::int64_t reserve = std::min(b.max_gen_len, (b.room - 1) / 2);
  b.max_text_tokens = text.max_text_tokens(t3.cond_length(cond), reserve);
  return b;
}

void validate_options(const SynthesisOptions& o, Variant variant) {
  CHATTERD_CHECK(!o.max_speech_tokens || *o.max_speech_tokens >= 1, InvalidArgument,
                 "max_speech_tokens must be >= 1, got {}", o.max_speech_tokens.value_or(0));
  CHATTERD_CHECK(o.chunk_tokens >= 25 && o.chunk_tokens <= 200, InvalidArgument,
                 "chunk_tokens must be in [25, 200], got {}", o.chunk_tokens);
  // Turbo/Nano speak English only; min_p, cfg_weight and exaggeration are accepted and ignored,
  // as the reference's turbo generate() does.
  if (is_turbo_family(variant)) {
    CHATTERD_CHECK(o.language.empty() || o.language == "en", InvalidArgument,
                   "chatterbox-{} speaks English only: language \"{}\" (use \"\" or \"en\")",
                   variant_name(variant), o.language);
  }
}

t3::SamplingOptions sampling_options(const T3Config& config, const SynthesisOptions& o,
                                     std::uint64_t seed) {
  t3::SamplingOptions s;
  const T3GenerateDefaults& d = config.generate;
  s.temperature = o.temperature.value_or(d.temperature);
  s.top_k = o.top_k.value_or(static_cast<int>(d.top_k));
  s.top_p = o.top_p.value_or(d.top_p);
  s.min_p = o.min_p.value_or(d.min_p);
  s.repetition_penalty = o.repetition_penalty.value_or(d.repetition_penalty);
  s.seed = seed;
  s.validate();
  return s;
}

std::uint64_t fresh_seed() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

std::int64_t synthetic_token_count(const std::string& text) {
  std::int64_t words = 0;
  bool in_word = false;
  for (const char c : text) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return std::max<std::int64_t>(10, 10 * words);
}

ChatterboxEngine::ChatterboxEngine(Parts parts, int n_threads)
    : parts_(std::move(parts)), pool_(n_threads) {
  CHATTERD_CHECK(parts_.t3 && parts_.flow && parts_.hift && parts_.text && !parts_.voices.empty(),
                 InvalidArgument, "ChatterboxEngine: incomplete parts");
  info_.name = parts_.name;
  info_.sample_rate_hz = static_cast<int>(parts_.hp.s3gen.hift.sampling_rate_hz);
  for (const auto& v : parts_.voices) info_.voices.push_back(v.name);
}

void ChatterboxEngine::add_voice(const Voice& voice) {
  check_voice_fits(voice, parts_.hp);
  ChatterboxVoice v;
  v.name = voice.name;
  v.t3 = voice.t3_cond();
  v.gen = voice.s3gen_prompt();
  const std::unique_lock<std::shared_mutex> lock(voices_mutex_);
  for (auto& existing : parts_.voices) {
    if (existing.name == v.name) {
      existing = std::move(v);
      return;
    }
  }
  parts_.voices.push_back(std::move(v));
  info_.voices.push_back(voice.name);
}

ChatterboxVoice ChatterboxEngine::find_voice(const std::string& name) const {
  const std::shared_lock<std::shared_mutex> lock(voices_mutex_);
  if (name.empty()) return parts_.voices.front();
  for (const auto& v : parts_.voices) {
    if (v.name == name) return v;
  }
  std::string known;
  for (const auto& v : parts_.voices) known += (known.empty() ? "" : ", ") + v.name;
  CHATTERD_THROW(InvalidArgument,
                 "{}: unknown voice \"{}\" (available: {}; add one with `chatterd voice add`)",
                 info_.name, name, known);
}

SynthesisResult ChatterboxEngine::synthesize(const SynthesisRequest& request,
                                             const ChunkCallback& on_chunk) {
  ChatterboxStageTimes times;
  return synthesize(request, on_chunk, times);
}

SynthesisResult ChatterboxEngine::synthesize(const SynthesisRequest& request,
                                             const ChunkCallback& on_chunk,
                                             ChatterboxStageTimes& times) {
  const auto t_start = Clock::now();
  times = {};
  const Variant variant = parts_.hp.variant;
  // English/Multilingual plug in here: their text encoder (SOT/EOT, language tags) and their
  // CFG token generation replace the two turbo-family steps below.
  CHATTERD_CHECK(is_turbo_family(variant), Unsupported,
                 "chatterbox: variant {} is not supported yet", variant_name(variant));
  const SynthesisOptions& opt = request.options;
  validate_options(opt, variant);
  const ChatterboxVoice voice = find_voice(request.voice);  // a copy: add_voice may run meanwhile
  const T3Model& t3 = *parts_.t3;
  const S3GenFlow& flow = *parts_.flow;
  const hift::Hift& vocoder = *parts_.hift;

  ExecContext ctx;
  ctx.pool = pool_.size() > 1 ? &pool_ : nullptr;

  const Budget budget = make_budget(t3, *parts_.text, voice.t3, opt);
  auto t0 = Clock::now();
  // Invalid UTF-8 -> InvalidArgument; empty text -> the reference's stand-in sentence.
  const std::vector<T3TextChunk> chunks = parts_.text->encode(request.text, budget.max_text_tokens);
  times.text_ms = ms_since(t0);

  SynthesisResult result;
  result.sample_rate_hz = info_.sample_rate_hz;
  Rng request_rng(opt.seed ? *opt.seed : fresh_seed());
  T3State state;
  std::int64_t next_index = 0;

  for (std::size_t c = 0; c < chunks.size(); ++c) {
    const T3TextChunk& chunk = chunks[c];
    const std::uint64_t t3_seed = request_rng.next_u64();
    Rng flow_rng(request_rng.next_u64());
    Rng hift_rng(request_rng.next_u64());

    // 1. T3: text -> speech tokens.
    T3GenerateOptions gen;
    gen.sampling = sampling_options(t3.config(), opt, t3_seed);
    const auto text_len = static_cast<std::int64_t>(chunk.ids.size());
    gen.max_gen_len = std::min(budget.max_gen_len, budget.room - text_len - 1);
    if (parts_.forced_length && !opt.max_speech_tokens) {
      gen.max_gen_len = std::min(gen.max_gen_len, synthetic_token_count(chunk.text) - 1);
    }
    t0 = Clock::now();
    auto t_first = t0;
    std::int64_t n_generated = 0;
    const T3GenerateResult tokens =
        generate_speech_tokens(ctx, t3, voice.t3, chunk.ids, gen, state, [&](std::int64_t) {
          if (n_generated++ == 0) t_first = Clock::now();
          return true;
        });
    const auto t_t3_end = Clock::now();
    times.t3_prefill_ms += std::chrono::duration<double, std::milli>(t_first - t0).count();
    times.t3_decode_ms += std::chrono::duration<double, std::milli>(t_t3_end - t_first).count();
    times.t3_decode_steps += std::max<std::int64_t>(0, n_generated - 1);

    // 2. S3Gen flow: tokens (+ 3 silence tokens) -> mel [1, 80, 2 N].
    const std::vector<std::int64_t> s3_tokens = speech_tokens_for_s3gen(tokens.tokens, t3.config());
    result.stats.speech_tokens += static_cast<std::int64_t>(s3_tokens.size());
    const Tensor token_tensor = Tensor::from_span<std::int64_t>(
        s3_tokens, {1, static_cast<std::int64_t>(s3_tokens.size())});
    t0 = Clock::now();
    const FlowEncoding enc = flow.encode(ctx, token_tensor, voice.gen);
    times.flow_encoder_ms += ms_since(t0);
    t0 = Clock::now();
    // Exactly S3GenFlow::infer's steps, split to time the encoder and the solver apart.
    const std::int64_t frames = enc.mu.dim(2);
    const Tensor z =
        flow.draw_noise(flow_rng, frames, flow.config().token_mel_ratio * token_tensor.numel());
    const Tensor x = flow.solve(ctx, enc, z, flow.config().n_cfm_timesteps);
    Tensor mel;
    ops::slice(ctx, x, 2, enc.prompt_frames, frames, mel);
    times.flow_solver_ms += ms_since(t0);

    // 3. HiFT: mel -> wav. Every text chunk is an independent S3Gen call that starts from
    // silence, like one reference generate() call, so each gets trim_fade (which silences the
    // vocoder's onset artifact); token-level streaming pieces within a chunk will not.
    t0 = Clock::now();
    hift::HiftOutput out = vocoder.infer(ctx, mel, hift_rng);
    hift::apply_trim_fade(out.wav);
    times.hift_ms += ms_since(t0);

    const float* wav = out.wav.data<float>();
    const std::size_t old_size = result.samples.size();
    result.samples.insert(result.samples.end(), wav, wav + out.wav.numel());
    ++result.stats.chunks;
    if (next_index == 0) result.stats.time_to_first_audio_ms = ms_since(t_start);
    // Token-level streaming will emit several pieces per text chunk from here.
    if (on_chunk) {
      AudioChunk piece;
      piece.samples = std::span<const float>(result.samples).subspan(old_size);
      piece.sample_rate_hz = result.sample_rate_hz;
      piece.index = next_index;
      piece.is_last = c + 1 == chunks.size();
      if (!on_chunk(piece)) {
        result.cancelled = !piece.is_last;
        ++next_index;
        break;
      }
    }
    ++next_index;
  }

  SynthesisStats& s = result.stats;
  s.total_ms = ms_since(t_start);
  s.audio_seconds =
      static_cast<double>(result.samples.size()) / static_cast<double>(result.sample_rate_hz);
  s.real_time_factor = s.audio_seconds > 0.0 ? s.total_ms / 1000.0 / s.audio_seconds : 0.0;
  return result;
}

std::unique_ptr<TtsEngine> create_chatterbox_engine(const std::filesystem::path& dir, int n_threads,
                                                    const std::filesystem::path& voice_store,
                                                    WeightDType t3_dtype) {
  auto engine = ChatterboxEngine::load(dir, n_threads, t3_dtype);
  if (!voice_store.empty() && std::filesystem::is_directory(voice_store)) {
    const VoiceStore store(nullptr, voice_store, ExecContext{});  // read-only: no models needed
    const VoiceFamily family = voice_family(engine->variant());
    for (const std::string& name : store.list()) {
      const std::optional<Voice> voice = store.get(name);
      if (voice && voice->family == family) engine->add_voice(*voice);
    }
  }
  return engine;
}

std::unique_ptr<TtsEngine> create_synthetic_chatterbox_engine(Variant variant, int n_threads,
                                                              std::uint64_t seed,
                                                              WeightDType t3_dtype) {
  return ChatterboxEngine::synthetic(variant, n_threads, seed, t3_dtype);
}

}  // namespace chatterd
