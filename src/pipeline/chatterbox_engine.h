#pragma once
// The Chatterbox TTS pipeline behind the TtsEngine seam: text -> T3 speech tokens -> S3Gen flow
// (tokens -> mel) -> HiFT (mel -> 24 kHz wav), one text chunk at a time.
//
// Loading happens once: hparams, T3, the S3Gen flow and HiFT (both from the s3gen checkpoint),
// the text encoder and the built-in voice (conds.pt). The models are const and shared by every
// request; per-request state (T3 caches, RNG streams, buffers) lives on the calling thread's
// stack, so synthesize() may run on several threads at once. They share the engine's ThreadPool,
// which serialises parallel regions (ThreadPool::parallel_for takes one submission at a time):
// concurrent requests interleave region by region instead of oversubscribing the cores.
//
// Variants: Turbo and Nano (GPT-2 T3, meanflow S3Gen), English and Multilingual (Llama T3 with
// classifier-free guidance, 10-step CFG S3Gen). The variant-specific part is the T3 step (text
// encoding + speech-token generation, run_t3()); S3Gen and HiFT are shared.
//
// Streaming (SynthesisOptions::streaming with an on_chunk callback): T3's tokens go to a
// per-request StreamVocoder (pipeline/stream_vocoder.h) in chunks as they are sampled: a first
// chunk of first_chunk_tokens (adaptive by default, see adaptive_first_chunk), then chunk_tokens
// each; every chunk is a flow window over [prompt tail | context | chunk | lookahead] and goes
// out as one AudioChunk as soon as it is vocoded. Otherwise the same vocoder runs one window over
// the whole prompt and all tokens of the text chunk. Returning false from on_chunk stops T3 and
// the vocoder before the next chunk.
//
// Randomness (documented contract: the same seed gives the same audio on any machine and any
// thread count; streamed audio also depends on the chunking, i.e. on first_chunk_tokens, which is
// timing-dependent when adaptive): one Rng(seed) per request; for each text chunk, in order,
// three u64 are drawn from it: the T3 sampler seed, the flow noise seed and the HiFT seed. The
// T3 sampler is Rng(t3 seed). The flow's initial noise and HiFT's source noise are functions of
// absolute position (frame index) and of their seed (StreamVocoder, StreamHift), so a streamed
// and a non-streamed run of the same request sample the same tokens and use the same noise.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "chatterd/engine/tts_engine.h"
#include "core/thread_pool.h"
#include "models/hift/hift.h"
#include "models/model_hparams.h"
#include "models/s3gen/s3gen_flow.h"
#include "models/t3/t3_cond.h"
#include "models/t3/t3_cuda_batcher.h"
#include "models/t3/t3_generate.h"
#include "models/t3/t3_model.h"
#include "models/t3/t3_text.h"
#include "models/t3/t3_text_cfg.h"
#include "models/variant.h"
#include "pipeline/stream_vocoder.h"
#include "pipeline/t3_batch_loop.h"
#include "pipeline/vocoder_batcher.h"
#include "pipeline/voice.h"
#include "weights/weight_store.h"

namespace chatterd {

// A voice: the conditioning of T3 and of the S3Gen flow (the reference's Conditionals).
struct ChatterboxVoice {
  std::string name;
  T3Cond t3;
  S3GenPrompt gen;
  // voice_key(gen), the VocoderBatcher's content key: set once a batcher is enabled.
  VoiceKey gen_key = 0;
  std::shared_ptr<const WeightStore> source;  // conds.pt: gen's tensors may be views of it
};

// Where the time of one request went (sums over its text chunks), in milliseconds.
struct ChatterboxStageTimes {
  double text_ms = 0.0;        // punc_norm + tokenizer + splitting
  double t3_prefill_ms = 0.0;  // prefill up to the first sampled token
  double t3_decode_ms = 0.0;   // every later token
  std::int64_t t3_decode_steps = 0;
  double flow_encoder_ms = 0.0;  // S3Gen embedding + conformer encoder
  double flow_solver_ms = 0.0;   // noise + ODE solve + prompt trim
  double hift_ms = 0.0;
  // Per stage, the largest process resident set sampled at the end of any of its segments
  // (StageTime::peak_rss_bytes).
  std::int64_t text_peak_rss_bytes = 0;
  std::int64_t t3_prefill_peak_rss_bytes = 0;
  std::int64_t t3_decode_peak_rss_bytes = 0;
  std::int64_t flow_encoder_peak_rss_bytes = 0;
  std::int64_t flow_solver_peak_rss_bytes = 0;
  std::int64_t hift_peak_rss_bytes = 0;
  // Streaming work counters (StreamVocoderStats summed over text chunks).
  std::int64_t flow_calls = 0;          // flow windows solved
  std::int64_t flow_frames = 0;         // mel frames through the flow (prompt + context + new)
  std::int64_t emitted_frames = 0;      // speech mel frames produced
  std::int64_t hift_frames = 0;         // mel frames through HiFT (incl. re-vocoded context)
  std::int64_t first_chunk_tokens = 0;  // of the first streamed chunk (0: not streamed)
  double time_to_first_chunk_ms = 0.0;
  // Waste: mel frames processed by the flow per frame emitted (1 + prompt/speech when one call).
  double flow_frames_per_emitted() const {
    return emitted_frames > 0
               ? static_cast<double>(flow_frames) / static_cast<double>(emitted_frames)
               : 0.0;
  }
  double t3_decode_ms_per_token() const {
    return t3_decode_steps > 0 ? t3_decode_ms / static_cast<double>(t3_decode_steps) : 0.0;
  }
};

class ChatterboxEngine final : public TtsEngine {
 public:
  // Everything the engine runs on; built by load() or synthetic().
  struct Parts {
    ModelHparams hp;
    std::shared_ptr<const T3Model> t3;
    std::shared_ptr<const WeightStore> s3gen_weights;  // keeps the flow/HiFT tensors alive
    std::unique_ptr<S3GenFlow> flow;
    std::unique_ptr<hift::Hift> hift;
    std::unique_ptr<T3TextEncoder> text;         // Turbo/Nano (GPT-2 BPE)
    std::unique_ptr<T3CfgTextEncoder> cfg_text;  // English/Multilingual (tokenizer.json)
    std::vector<ChatterboxVoice> voices;         // voices[0] is the default
    std::string name;                            // EngineInfo::name
    // Synthetic weights never sample EOS: force a token count (see synthetic_token_count()).
    bool forced_length = false;
  };

  ChatterboxEngine(Parts parts, int n_threads);

  // A Hugging Face model directory of any variant (model_dir.h lists the files). Throws
  // ModelFormatError naming every missing file (conds.pt included: it is the default voice) or a
  // tokenizer that does not fit the checkpoint, IoError for an unreadable directory.
  // `t3_dtype`: the T3 matrices are converted to it at load (T3Model).
  static std::unique_ptr<ChatterboxEngine> load(const std::filesystem::path& dir, int n_threads,
                                                WeightDType t3_dtype = WeightDType::F32);
  // Seeded random weights of the real dimensions and a random default voice (`synthetic:<v>`).
  static std::unique_ptr<ChatterboxEngine> synthetic(Variant variant, int n_threads,
                                                     std::uint64_t seed,
                                                     WeightDType t3_dtype = WeightDType::F32);

  const EngineInfo& info() const override { return info_; }
  SynthesisResult synthesize(const SynthesisRequest& request,
                             const ChunkCallback& on_chunk = {}) override;
  // The larger of the batch loop's max_batch and the vocoder batcher's max_batch_size once
  // either is enabled, else 1.
  int max_concurrency() const override { return max_concurrency_; }
  // Batched T3 steps (when batching is enabled) are reported to `observer`.
  void set_observer(EngineObserver* observer) override;
  // T3's KV cache pool (one per engine: every request and voice prefix draws from it).
  EngineMemoryStats memory_stats() const override;
  // Same, also reporting where the time went (benchmarks).
  SynthesisResult synthesize(const SynthesisRequest& request, const ChunkCallback& on_chunk,
                             ChatterboxStageTimes& times);

  // The windowing of streamed requests (P, C, O; see StreamVocoderOptions). Validated; set it
  // before requests run (not synchronised with synthesize()).
  void set_stream_options(const StreamVocoderOptions& options);
  const StreamVocoderOptions& stream_options() const { return stream_options_; }

  // Continuous batching of T3 across concurrent synthesize() calls (Turbo/Nano): from now on
  // every request's token generation joins one T3BatchLoop (pipeline/t3_batch_loop.h), whose
  // decode steps serve all running requests with one weight read; each caller keeps its own
  // vocoder work on its own thread. Tokens, hence audio, are those of an unbatched run (up to the
  // float order of the batched projections; exact on the fixtures). Call before serving
  // (not synchronised with synthesize()). Throws Unsupported for English/Multilingual.
  // After use_cuda() the loop's batcher is the device's (no solo path: only the loop's thread
  // drives the device).
  void enable_batching(const T3BatchLoopConfig& config);
  // T3 decodes on a CUDA device (every variant): the decoder goes to the device
  // (models/t3/t3_cuda_batcher.h) and every request's T3, batched or not, joins the device's
  // batch loop of `max_batch` streams (the vocoder: use_cuda_vocoder). Throws Unsupported
  // without a CUDA build or device. Call before serving.
  void use_cuda(const T3CudaOptions& options, std::int64_t max_batch);
  // S3Gen's flow encoder, CFM estimator and solver and HiFT's conv stack on CUDA device `device`
  // with `dtype` (f32 or bf16) matrices (S3GenFlow::use_device, Hift::use_device); the token
  // embedding, speaker affine, HiFT's f0 predictor, source and STFTs stay on the CPU. Before
  // use_bf16_vocoder and before requests run.
  void use_cuda_vocoder(int device, DType dtype);
  const T3CudaBackend* t3_cuda() const { return t3_cuda_.get(); }
  // The vocoder's bf16 path (EngineConfig::vocoder_dtype): packs S3Gen's and HiFT's frame-wise
  // weights for the bf16 GEMM tile. Call before serving (not synchronised with synthesize()).
  // Returns false, changing nothing, where the CPU lacks AVX512_BF16.
  bool use_bf16_vocoder();
  bool bf16_vocoder() const { return bf16_vocoder_; }
  // Statistics of the batch loop (all zero when batching is off).
  T3BatchLoopStats batching_stats() const;
  // Batches the S3Gen flow solves of concurrent requests (any variant): from now on every
  // request's windows go through one VocoderBatcher (pipeline/vocoder_batcher.h). Audio is that
  // of unbatched runs (f32: within float reordering; bf16: identical). Call before serving (not
  // synchronised with synthesize()).
  void enable_vocoder_batching(const VocoderBatcherConfig& config);
  // Back to per-stream solves (benchmarks compare both on one engine). Not synchronised with
  // synthesize().
  void disable_vocoder_batching();
  // Statistics of the vocoder batcher (all zero when it is off).
  VocoderBatcherStats vocoder_batching_stats() const;

  // The models and voices, for benchmarks and tests that drive a StreamVocoder directly.
  const S3GenFlow& flow() const { return *parts_.flow; }
  const hift::Hift& vocoder() const { return *parts_.hift; }
  ChatterboxVoice voice(const std::string& name) const { return find_voice(name); }

  Variant variant() const { return parts_.hp.variant; }
  int n_threads() const { return pool_.size(); }
  const ModelHparams& hparams() const { return parts_.hp; }

  // Adds (or replaces) a cloned voice (pipeline/voice.h) under voice.name. Throws InvalidArgument
  // when it was built for another model family or does not fit this model's dimensions. Safe to
  // call while other threads synthesise; info().voices is updated too, so servers that read
  // info() concurrently must add voices before they start (or through their owner loop).
  void add_voice(const Voice& voice);

 private:
  ChatterboxVoice find_voice(const std::string& name) const;
  // Turbo/Nano: the voice's T3 conditioning prefix, made at its first request and kept for up to
  // kMaxCondPrefixes voices (each ~72 MB for Turbo, f32 K/V of ~376 positions x 24 layers); null
  // for Llama models and for voices beyond the bound (they run the whole prefill).
  std::shared_ptr<const T3CondPrefix> cond_prefix(const ExecContext& ctx,
                                                  const ChatterboxVoice& voice) const;
  static constexpr std::size_t kMaxCondPrefixes = 8;
  // The T3 step of one request, variant-specific: text -> T3 requests (chunks).
  std::vector<T3TextChunk> encode_text(const SynthesisRequest& request,
                                       std::int64_t max_text_tokens) const;
  // The T3 step of one chunk: speech tokens, each reported to `on_token` as it is generated
  // (return false to stop). Options were validated by synthesize().
  T3GenerateResult run_t3(const ExecContext& ctx, const ChatterboxVoice& voice,
                          const T3TextChunk& chunk, const SynthesisOptions& options,
                          std::int64_t max_gen_len, std::uint64_t seed, T3State& state,
                          const SpeechTokenCallback& on_token) const;

  Parts parts_;  // parts_.voices is guarded by voices_mutex_ (add_voice may run concurrently)
  mutable std::shared_mutex voices_mutex_;
  EngineInfo info_;
  ThreadPool pool_;
  std::unique_ptr<T3CudaBackend> t3_cuda_;  // T3 on a device (use_cuda), before the loop
  // After pool_ and t3_cuda_: the loop's thread uses both and must stop first.
  std::unique_ptr<T3BatchLoop> batch_loop_;
  std::unique_ptr<VocoderBatcher> vocoder_batcher_;
  int max_concurrency_ = 1;
  bool bf16_vocoder_ = false;
  // Voice name -> conditioning prefix (cond_prefix); add_voice drops a replaced voice's entry.
  mutable std::mutex prefixes_mutex_;
  mutable std::map<std::string, std::shared_ptr<const T3CondPrefix>> prefixes_;
  EngineObserver* observer_ = nullptr;  // handed to batch_loop_ (set before serving)
  StreamVocoderOptions stream_options_;
  std::atomic<int> active_requests_{0};  // synthesize() calls running (the T3 solo fast path)
  // Running mean of the streaming vocoder's milliseconds per token (adaptive first chunk).
  std::atomic<double> vocoder_ms_per_token_{0.0};
};

// Speech tokens a synthetic engine generates for a text chunk when max_speech_tokens is unset:
// 10 per word (about 2.5 words/s of speech at 25 tokens/s), at least 10.
std::int64_t synthetic_token_count(const std::string& text);

// The factories create_engine() uses. n_threads: 0 = one per hardware core. `voice_store`: a
// VoiceStore directory whose saved voices of this model's family are added (empty: none).
std::unique_ptr<ChatterboxEngine> create_chatterbox_engine(
    const std::filesystem::path& dir, int n_threads, const std::filesystem::path& voice_store = {},
    WeightDType t3_dtype = WeightDType::F32);
std::unique_ptr<ChatterboxEngine> create_synthetic_chatterbox_engine(
    Variant variant, int n_threads, std::uint64_t seed = 0,
    WeightDType t3_dtype = WeightDType::F32);
// The tensor dtype a WeightDType stores (Int8 -> q8_0).
DType weight_dtype_storage(WeightDType dtype);

}  // namespace chatterd
