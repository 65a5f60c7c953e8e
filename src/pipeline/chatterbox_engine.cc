#include "pipeline/chatterbox_engine.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <utility>

#include "core/check.h"
#include "core/rng.h"
#include "core/stopwatch.h"
#include "models/hift/hift.h"
#include "models/model_dir.h"
#include "models/t3/t3_generate.h"
#include "ops/layout.h"
#include "pipeline/system_info.h"
#include "pipeline/voice_store.h"
#include "text/language.h"

namespace chatterd {
namespace {

using Clock = std::chrono::steady_clock;

// Text ids each request may carry, and the generation budget. The context must hold
// [cond | text | BOS | generated]. Real Turbo has 8196 positions, so the reference's 1000 tokens
// and the tokenizer's 1024 text ids always fit; for short contexts (tiny fixtures) the generation
// reserve used for splitting is capped at half the free room so that some text still fits.
struct Budget {
  std::int64_t max_gen_len = 0;      // the reference's max_gen_len (at most this + 1 tokens)
  std::int64_t max_text_tokens = 0;  // per text chunk
  std::int64_t room = 0;             // positions after cond + BOS
};

Budget make_budget(const ChatterboxEngine::Parts& parts, const T3Cond& cond,
                   const SynthesisOptions& options) {
  const T3Model& t3 = *parts.t3;
  const bool llama = t3.is_llama();
  Budget b;
  // Turbo's max_gen_len counts the steps after the first token; English/Multilingual's
  // max_new_tokens counts every token.
  b.max_gen_len = options.max_speech_tokens ? *options.max_speech_tokens - (llama ? 0 : 1)
                                            : t3.config().generate.max_new_tokens;
  b.room = t3.max_positions() - t3.cond_length(cond) - (llama ? 2 : 1);
  CHATTERD_CHECK(b.room >= 2, InvalidArgument,
                 "chatterbox: the voice's conditioning ({} rows) leaves no room in {} positions",
                 t3.cond_length(cond), t3.max_positions());
  const std::int64_t reserve = std::min(b.max_gen_len, (b.room - 1) / 2);
  b.max_text_tokens = llama ? parts.cfg_text->max_text_tokens(t3.cond_length(cond), reserve)
                            : parts.text->max_text_tokens(t3.cond_length(cond), reserve);
  return b;
}

void validate_options(const SynthesisOptions& o, Variant variant) {
  CHATTERD_CHECK(!o.max_speech_tokens || *o.max_speech_tokens >= 1, InvalidArgument,
                 "max_speech_tokens must be >= 1, got {}", o.max_speech_tokens.value_or(0));
  CHATTERD_CHECK(o.chunk_tokens >= 25 && o.chunk_tokens <= 200, InvalidArgument,
                 "chunk_tokens must be in [25, 200], got {}", o.chunk_tokens);
  CHATTERD_CHECK(o.first_chunk_tokens == 0 || (o.first_chunk_tokens >= kMinFirstChunkTokens &&
                                               o.first_chunk_tokens <= o.chunk_tokens),
                 InvalidArgument,
                 "first_chunk_tokens must be 0 (adaptive) or in [{}, chunk_tokens = {}], got {}",
                 kMinFirstChunkTokens, o.chunk_tokens, o.first_chunk_tokens);
  // Turbo/Nano speak English only; min_p, cfg_weight and exaggeration are accepted and ignored,
  // as the reference's turbo generate() does.
  if (is_turbo_family(variant) || variant == Variant::English) {
    CHATTERD_CHECK(o.language.empty() || o.language == "en", InvalidArgument,
                   "chatterbox-{} speaks English only: language \"{}\" (use \"\" or \"en\"; the "
                   "multilingual model speaks {})",
                   variant_name(variant), o.language, text::supported_language_codes());
    if (is_turbo_family(variant)) return;
  } else {
    // The reference's language_id is a required argument; no silent default.
    CHATTERD_CHECK(!o.language.empty(), InvalidArgument,
                   "chatterbox-{} needs a language: one of {}", variant_name(variant),
                   text::supported_language_codes());
    (void)text::Language::parse(o.language);  // InvalidArgument naming it and the supported ones
  }
  if (o.cfg_weight) {
    CHATTERD_CHECK(*o.cfg_weight >= 0.0f && *o.cfg_weight <= T3GenerateOptions::kMaxCfgWeight,
                   InvalidArgument, "cfg_weight must be in [0, {}], got {}",
                   T3GenerateOptions::kMaxCfgWeight, *o.cfg_weight);
  }
  if (o.exaggeration) {
    CHATTERD_CHECK(
        *o.exaggeration >= 0.0f && *o.exaggeration <= T3GenerateOptions::kMaxExaggeration,
        InvalidArgument, "exaggeration must be in [0, {}], got {}",
        T3GenerateOptions::kMaxExaggeration, *o.exaggeration);
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

// Expected speech tokens per text id (English BPE: ~3.75 ids and 25 speech tokens per second of
// speech), for the adaptive first chunk.
constexpr std::int64_t kTokensPerTextId = 6;

// The decode steps of one text chunk (the reference's max_gen_len).
// Synthetic weights never sample EOS: `forced` caps the length (synthetic_token_count).
std::int64_t max_gen_len(const Budget& budget, const T3TextChunk& chunk,
                         const SynthesisOptions& opt, bool forced, bool llama) {
  const auto text_len = static_cast<std::int64_t>(chunk.ids.size());
  std::int64_t n = std::min(budget.max_gen_len, budget.room - text_len - 1);
  if (forced && !opt.max_speech_tokens) {
    // Turbo's budget counts the steps after the first token, the Llama one every token.
    n = std::min(n, synthetic_token_count(chunk.text) - (llama ? 0 : 1));
  }
  return n;
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
  CHATTERD_CHECK(parts_.t3 && parts_.flow && parts_.hift && !parts_.voices.empty() &&
                     (parts_.t3->is_llama() ? parts_.cfg_text != nullptr : parts_.text != nullptr),
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
  if (vocoder_batcher_) v.gen_key = voice_key(v.gen);  // hashed only where a batcher uses it
  {
    const std::lock_guard<std::mutex> prefix_lock(prefixes_mutex_);
    prefixes_.erase(v.name);
  }
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

std::vector<T3TextChunk> ChatterboxEngine::encode_text(const SynthesisRequest& request,
                                                       std::int64_t max_text_tokens) const {
  if (!parts_.t3->is_llama()) return parts_.text->encode(request.text, max_text_tokens);
  std::optional<text::Language> language;
  if (parts_.cfg_text->multilingual()) language = text::Language::parse(request.options.language);
  return parts_.cfg_text->encode(request.text, language, max_text_tokens);
}

std::shared_ptr<const T3CondPrefix> ChatterboxEngine::cond_prefix(
    const ExecContext& ctx, const ChatterboxVoice& voice) const {
  if (parts_.t3->is_llama()) return nullptr;
  const std::lock_guard<std::mutex> lock(prefixes_mutex_);
  if (const auto it = prefixes_.find(voice.name); it != prefixes_.end()) return it->second;
  if (prefixes_.size() >= kMaxCondPrefixes) return nullptr;
  auto prefix = std::make_shared<const T3CondPrefix>(parts_.t3->make_cond_prefix(ctx, voice.t3));
  prefixes_.emplace(voice.name, prefix);
  return prefix;
}

T3GenerateResult ChatterboxEngine::run_t3(const ExecContext& ctx, const ChatterboxVoice& voice,
                                          const T3TextChunk& chunk, const SynthesisOptions& opt,
                                          std::int64_t max_gen_len, std::uint64_t seed,
                                          T3State& state,
                                          const SpeechTokenCallback& on_token) const {
  const T3Model& t3 = *parts_.t3;
  T3GenerateOptions gen;
  gen.sampling = sampling_options(t3.config(), opt, seed);
  gen.max_gen_len = max_gen_len;
  if (t3.is_llama()) {
    const T3GenerateDefaults& d = t3.config().generate;
    gen.cfg_weight = opt.cfg_weight.value_or(d.cfg_weight);
    // The reference's generate(exaggeration=0.5) replaces the voice's emotion_adv whenever it
    // differs, so the default is the generate() default, not the voice's value.
    gen.exaggeration = opt.exaggeration.value_or(d.exaggeration);
  }
  // The CUDA batcher prefills the conditioning on the device: no host prefix there.
  const std::shared_ptr<const T3CondPrefix> prefix = t3_cuda_ ? nullptr : cond_prefix(ctx, voice);
  gen.cond_prefix = prefix.get();
  if (batch_loop_ && (t3_cuda_ || (opt.batching && !t3.is_llama()))) {
    // The only request in the engine: generate here (same tokens) rather than through the
    // loop's thread. With others running it joins the loop even when the loop is idle at this
    // instant: two decoders side by side would each stream the weights.
    const auto solo = active_requests_.load() <= 1 ? batch_loop_->try_solo() : std::nullopt;
    if (solo) {
      return generate_speech_tokens(ctx, t3, voice.t3, chunk.ids, gen, state, on_token);
    }
    return batch_loop_->generate(voice.t3, chunk.ids, gen, on_token);
  }
  return generate_speech_tokens(ctx, t3, voice.t3, chunk.ids, gen, state, on_token);
}

void ChatterboxEngine::enable_batching(const T3BatchLoopConfig& config) {
  CHATTERD_CHECK(!parts_.t3->is_llama() || t3_cuda_, Unsupported,
                 "{}: continuous batching covers Turbo/Nano only for now (English/Multilingual "
                 "batch on a CUDA device)",
                 info_.name);
  config.validate();
  ExecContext ctx;
  ctx.pool = pool_.size() > 1 ? &pool_ : nullptr;
  batch_loop_.reset();  // a previous loop finishes its streams (and frees its slots) first
  if (t3_cuda_) {
    T3BatchLoopConfig device_config = config;
    device_config.solo = false;
    const T3CudaBackend* backend = t3_cuda_.get();
    batch_loop_ = std::make_unique<T3BatchLoop>(
        [backend, max_batch = config.max_batch] { return backend->make_batcher(max_batch); }, ctx,
        device_config);
  } else {
    batch_loop_ = std::make_unique<T3BatchLoop>(*parts_.t3, ctx, config);
  }
  batch_loop_->set_observer(observer_);
  max_concurrency_ = std::max(max_concurrency_, static_cast<int>(config.max_batch));
}

void ChatterboxEngine::use_cuda(const T3CudaOptions& options, std::int64_t max_batch) {
  batch_loop_.reset();  // nothing may drive an old backend while it is replaced
  t3_cuda_.reset();
  info_.device = "cpu";
  t3_cuda_ = std::make_unique<T3CudaBackend>(*parts_.t3, options);
  try {
    enable_batching(T3BatchLoopConfig{.max_batch = max_batch});
  } catch (...) {
    // No loop, no device: the engine stays on the CPU rather than claim a device it would not
    // use.
    batch_loop_.reset();
    t3_cuda_.reset();
    throw;
  }
  info_.device = t3_cuda_->description();
}

void ChatterboxEngine::use_cuda_vocoder(int device, DType dtype) {
  parts_.flow->use_device(device, dtype);
  parts_.hift->use_device(device, dtype);
  info_.vocoder_device = parts_.flow->device_description();
}

void ChatterboxEngine::enable_vocoder_batching(const VocoderBatcherConfig& config) {
  config.validate();
  ExecContext ctx;
  ctx.pool = pool_.size() > 1 ? &pool_ : nullptr;
  {
    const std::unique_lock<std::shared_mutex> lock(voices_mutex_);
    for (auto& v : parts_.voices) v.gen_key = voice_key(v.gen);
  }
  vocoder_batcher_.reset();
  vocoder_batcher_ = std::make_unique<VocoderBatcher>(*parts_.flow, ctx, config);
  vocoder_batcher_->set_observer(observer_);
  max_concurrency_ = std::max(max_concurrency_, static_cast<int>(config.max_batch_size));
}

void ChatterboxEngine::disable_vocoder_batching() {
  vocoder_batcher_.reset();
  max_concurrency_ = batch_loop_ ? static_cast<int>(batch_loop_->config().max_batch) : 1;
}

VocoderBatcherStats ChatterboxEngine::vocoder_batching_stats() const {
  return vocoder_batcher_ ? vocoder_batcher_->stats() : VocoderBatcherStats{};
}

bool ChatterboxEngine::use_bf16_vocoder() {
  if (bf16_vocoder_) return true;
  ExecContext ctx;
  ctx.pool = pool_.size() > 1 ? &pool_ : nullptr;
  if (!parts_.flow->pack_bf16(ctx)) return false;
  parts_.hift->pack_bf16(ctx);
  bf16_vocoder_ = true;
  return true;
}

void ChatterboxEngine::set_observer(EngineObserver* observer) {
  observer_ = observer;
  if (batch_loop_) batch_loop_->set_observer(observer);
  if (vocoder_batcher_) vocoder_batcher_->set_observer(observer);
}

EngineMemoryStats ChatterboxEngine::memory_stats() const {
  const ops::KvPoolStats kv = parts_.t3->kv_pool()->stats();
  EngineMemoryStats m;
  m.kv_cache_bytes_in_use = static_cast<std::int64_t>(kv.bytes_in_use());
  m.kv_cache_bytes_allocated = static_cast<std::int64_t>(kv.bytes_allocated());
  m.kv_cache_peak_bytes_in_use = static_cast<std::int64_t>(kv.peak_bytes_in_use());
  if (t3_cuda_) {
    const T3CudaMemoryStats d = t3_cuda_->memory();
    m.device_bytes_in_use = d.bytes_in_use;
    m.device_peak_bytes_in_use = d.peak_bytes_in_use;
    m.device_bytes_cached = d.bytes_cached;
    m.gpu_telemetry = d.nvml;
    m.gpu_memory_used_bytes = d.gpu_memory_used;
    m.gpu_memory_total_bytes = d.gpu_memory_total;
    m.gpu_utilization_percent = d.gpu_percent;
    m.gpu_memory_utilization_percent = d.gpu_memory_percent;
    m.device_timing = true;
    m.device_t3_ms = d.step_device_ms;
    m.device_t3_steps = d.timed_steps;
  }
  if (!parts_.flow->device_description().empty() || !parts_.hift->device_description().empty()) {
    const ops::DeviceBusy flow = parts_.flow->device_busy();
    const ops::DeviceBusy hift = parts_.hift->device_busy();
    m.device_timing = true;
    m.device_flow_ms = flow.device_ms;
    m.device_flow_calls = flow.calls;
    m.device_hift_ms = hift.device_ms;
    m.device_hift_calls = hift.calls;
  }
  // The vocoder's device contexts (flow estimator, HiFT stack): their peaks are summed, an upper
  // bound of the joint peak.
  for (const CachingAllocatorStats& v :
       {parts_.flow->device_memory(), parts_.hift->device_memory()}) {
    m.device_bytes_in_use += static_cast<std::int64_t>(v.bytes_in_use);
    m.device_peak_bytes_in_use += static_cast<std::int64_t>(v.peak_bytes_in_use);
    m.device_bytes_cached += static_cast<std::int64_t>(v.bytes_cached);
  }
  return m;
}

T3BatchLoopStats ChatterboxEngine::batching_stats() const {
  return batch_loop_ ? batch_loop_->stats() : T3BatchLoopStats{};
}

SynthesisResult ChatterboxEngine::synthesize(const SynthesisRequest& request,
                                             const ChunkCallback& on_chunk) {
  ChatterboxStageTimes times;
  return synthesize(request, on_chunk, times);
}

void ChatterboxEngine::set_stream_options(const StreamVocoderOptions& options) {
  options.validate();
  stream_options_ = options;
}

SynthesisResult ChatterboxEngine::synthesize(const SynthesisRequest& request,
                                             const ChunkCallback& on_chunk,
                                             ChatterboxStageTimes& times) {
  const auto t_start = Clock::now();
  times = {};
  const Variant variant = parts_.hp.variant;
  const SynthesisOptions& opt = request.options;
  validate_options(opt, variant);
  const ChatterboxVoice voice = find_voice(request.voice);  // a copy: add_voice may run meanwhile
  const T3Model& t3 = *parts_.t3;
  const bool streaming = on_chunk && opt.streaming;

  ExecContext ctx;
  ctx.pool = pool_.size() > 1 ? &pool_ : nullptr;
  ++active_requests_;
  struct Active {
    std::atomic<int>& n;
    explicit Active(std::atomic<int>& count) : n(count) {}
    Active(const Active&) = delete;
    Active& operator=(const Active&) = delete;
    Active(Active&&) = delete;
    Active& operator=(Active&&) = delete;
    ~Active() { --n; }
  } const active{active_requests_};
  // An active stream of the vocoder batcher for the whole request (opting out of batching
  // opts out of both batchers).
  const std::unique_ptr<VocoderBatcher::Stream> vocoder_ticket =
      vocoder_batcher_ && opt.batching ? vocoder_batcher_->join(voice.gen_key) : nullptr;

  const Budget budget = make_budget(parts_, voice.t3, opt);
  auto t0 = Clock::now();
  // Invalid UTF-8 -> InvalidArgument; empty text -> the reference's stand-in sentence.
  const std::vector<T3TextChunk> chunks = encode_text(request, budget.max_text_tokens);
  times.text_ms = ms_since(t0);
  bench::raise_to_resident(times.text_peak_rss_bytes);

  SynthesisResult result;
  result.sample_rate_hz = info_.sample_rate_hz;
  Rng request_rng(opt.seed ? *opt.seed : fresh_seed());
  T3State state;
  std::int64_t next_index = 0;
  bool stopped = false;
  // Audio appended to result.samples since the last emitted piece goes out as one AudioChunk.
  std::size_t piece_start = 0;
  auto emit = [&](bool is_last) {
    const std::size_t size = result.samples.size();
    if (size == piece_start && !is_last) return true;
    ++result.stats.chunks;
    if (next_index == 0) {
      result.stats.time_to_first_audio_ms = ms_since(t_start);
      times.time_to_first_chunk_ms = result.stats.time_to_first_audio_ms;
    }
    bool go_on = true;
    if (on_chunk) {
      AudioChunk piece;
      piece.samples = std::span<const float>(result.samples).subspan(piece_start);
      piece.sample_rate_hz = result.sample_rate_hz;
      piece.index = next_index;
      piece.is_last = is_last;
      go_on = on_chunk(piece);
      if (!go_on && !is_last) result.cancelled = true;
    }
    ++next_index;
    piece_start = size;
    return go_on;
  };
  const S3GenConfig& s3 = parts_.hp.s3gen;
  const double tokens_per_second =
      static_cast<double>(info_.sample_rate_hz) /
      static_cast<double>(s3.token_mel_ratio * parts_.hift->samples_per_frame());
  StreamVocoderOptions one_call = stream_options_;
  one_call.prompt_tokens = StreamVocoderOptions::kWholePrompt;

  for (std::size_t c = 0; c < chunks.size() && !stopped; ++c) {
    const T3TextChunk& chunk = chunks[c];
    const bool last_text_chunk = c + 1 == chunks.size();
    const std::uint64_t t3_seed = request_rng.next_u64();
    const std::uint64_t flow_seed = request_rng.next_u64();
    const std::uint64_t hift_seed = request_rng.next_u64();
    StreamVocoder vocoder(*parts_.flow, *parts_.hift, voice.gen,
                          streaming ? stream_options_ : one_call, flow_seed, hift_seed);
    vocoder.set_solver(vocoder_ticket.get());

    // The chunking: a first chunk (fixed, or adaptive: decided once the least first chunk's
    // tokens exist), then chunk_tokens each; the rest when T3 stops.
    std::int64_t next_size = opt.first_chunk_tokens > 0 ? opt.first_chunk_tokens : 0;
    std::int64_t second_size = opt.chunk_tokens;  // the adaptive rule may make it smaller
    std::int64_t vocoded_chunks = 0;
    const std::int64_t max_gen =
        max_gen_len(budget, chunk, opt, parts_.forced_length, t3.is_llama());
    const std::int64_t expected = std::min<std::int64_t>(
        kTokensPerTextId * static_cast<std::int64_t>(chunk.ids.size()), max_gen + 1);
    double vocoder_ms_in_t3 = 0.0;  // vocoder time spent inside the token callback
    Clock::time_point t_first{};
    std::int64_t n_generated = 0;
    auto on_token = [&](std::int64_t token) {
      if (n_generated++ == 0) {
        t_first = Clock::now();
        bench::raise_to_resident(times.t3_prefill_peak_rss_bytes);
      }
      if (token < 0 || token >= t3.config().start_speech_token) return true;  // not S3 vocab
      vocoder.push_tokens(std::span<const std::int64_t>(&token, 1));
      if (!streaming) return true;
      const std::int64_t least =
          std::max(kMinFirstChunkTokens, vocoder.lag_tokens() + kFirstAudioTokens);
      if (next_size == 0 && vocoder.tokens() >= least) {
        const double t3_ms_per_token =
            n_generated > 1 ? ms_since(t_first) / static_cast<double>(n_generated - 1) : 0.0;
        const FirstChunks plan = adaptive_first_chunks(
            opt.chunk_tokens, expected, t3_ms_per_token * tokens_per_second / 1000.0,
            vocoder_ms_per_token_.load() * tokens_per_second / 1000.0, vocoder.lag_tokens(),
            vocoder.window_overhead_tokens());
        next_size = plan.first;
        second_size = plan.second;
      }
      if (next_size == 0 || !vocoder.ready(next_size)) return true;
      // A decode segment ends where the vocoder takes over (once per chunk, not per token).
      bench::raise_to_resident(times.t3_decode_peak_rss_bytes);
      const auto tv = Clock::now();
      if (times.first_chunk_tokens == 0) times.first_chunk_tokens = next_size;
      vocoder.vocode(ctx, next_size, result.samples);
      const double ms = ms_since(tv);
      vocoder_ms_in_t3 += ms;
      const double per_token = ms / static_cast<double>(next_size);
      const double mean = vocoder_ms_per_token_.load();
      vocoder_ms_per_token_.store(mean > 0.0 ? 0.8 * mean + 0.2 * per_token : per_token);
      next_size = ++vocoded_chunks == 1 ? second_size : opt.chunk_tokens;
      return emit(false);
    };

    // 1. T3: text -> speech tokens, handed to the vocoder as they are sampled.
    t0 = Clock::now();
    t_first = t0;
    const T3GenerateResult tokens =
        run_t3(ctx, voice, chunk, opt, max_gen, t3_seed, state, on_token);
    const auto t_t3_end = Clock::now();
    bench::raise_to_resident(times.t3_decode_peak_rss_bytes);
    times.t3_prefill_ms += std::chrono::duration<double, std::milli>(t_first - t0).count();
    times.t3_decode_ms +=
        std::chrono::duration<double, std::milli>(t_t3_end - t_first).count() - vocoder_ms_in_t3;
    times.t3_decode_steps += std::max<std::int64_t>(0, n_generated - 1);
    if (c == 0 && n_generated > 0) {
      result.stats.time_to_first_token_ms =
          std::chrono::duration<double, std::milli>(t_first - t_start).count();
    }

    if (tokens.cancelled) {
      stopped = true;
    } else {
      // 2.-3. The remaining tokens + S3Gen's silence tokens -> mel -> wav (the whole text chunk
      // when not streaming). Every text chunk is an independent S3Gen stream that starts from
      // silence, like one reference generate() call, so each gets trim_fade.
      // Turbo/Nano append S3Gen's silence tokens (tts_turbo.py); English/Multilingual do not.
      // Their token filter (drop_invalid_speech_tokens) is applied token by token in on_token:
      // ids >= start_speech_token are skipped, and EOS ends generation before it is reported.
      // One difference from the reference, forced by streaming: a start token sampled mid-way
      // does not retract the audio of the tokens before it.
      if (!t3.is_llama()) {
        const std::vector<std::int64_t> silence(kS3GenSilenceCount, kS3GenSilenceToken);
        vocoder.push_tokens(silence);
      }
      // T3 may stop before any speech token (EOS first): no S3Gen call for nothing.
      if (vocoder.tokens() > 0) vocoder.finish(ctx, result.samples);
      stopped = !emit(last_text_chunk);
    }
    result.stats.speech_tokens += vocoder.tokens();
    const StreamVocoderStats& vs = vocoder.stats();
    times.flow_encoder_ms += vs.flow_encoder_ms;
    times.flow_solver_ms += vs.flow_solver_ms;
    times.hift_ms += vs.hift_ms;
    times.flow_encoder_peak_rss_bytes =
        std::max(times.flow_encoder_peak_rss_bytes, vs.flow_encoder_peak_rss_bytes);
    times.flow_solver_peak_rss_bytes =
        std::max(times.flow_solver_peak_rss_bytes, vs.flow_solver_peak_rss_bytes);
    times.hift_peak_rss_bytes = std::max(times.hift_peak_rss_bytes, vs.hift_peak_rss_bytes);
    times.flow_calls += vs.flow_calls;
    times.flow_frames += vs.flow_frames;
    times.emitted_frames += vs.emitted_frames;
    times.hift_frames += vs.hift_frames;
  }

  SynthesisStats& s = result.stats;
  s.total_ms = ms_since(t_start);
  s.audio_seconds =
      static_cast<double>(result.samples.size()) / static_cast<double>(result.sample_rate_hz);
  s.real_time_factor = s.audio_seconds > 0.0 ? s.total_ms / 1000.0 / s.audio_seconds : 0.0;
  s.decode_steps = times.t3_decode_steps;
  s.decode_ms = times.t3_decode_ms;
  s.stages = {{"text", times.text_ms, times.text_peak_rss_bytes},
              {"t3_prefill", times.t3_prefill_ms, times.t3_prefill_peak_rss_bytes},
              {"t3_decode", times.t3_decode_ms, times.t3_decode_peak_rss_bytes},
              {"flow_encoder", times.flow_encoder_ms, times.flow_encoder_peak_rss_bytes},
              {"flow_solver", times.flow_solver_ms, times.flow_solver_peak_rss_bytes},
              {"hift", times.hift_ms, times.hift_peak_rss_bytes}};
  return result;
}

std::unique_ptr<ChatterboxEngine> create_chatterbox_engine(const std::filesystem::path& dir,
                                                           int n_threads,
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

std::unique_ptr<ChatterboxEngine> create_synthetic_chatterbox_engine(Variant variant, int n_threads,
                                                                     std::uint64_t seed,
                                                                     WeightDType t3_dtype) {
  return ChatterboxEngine::synthetic(variant, n_threads, seed, t3_dtype);
}

}  // namespace chatterd
