#pragma once
// The engine seam: everything above it (CLI, HTTP/WebSocket/gRPC servers, benchmarks) talks to a
// TtsEngine and never to a model. Implementations: the Chatterbox pipeline (src/pipeline) and the
// zero-download espeak-ng engine (src/engines/espeak).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chatterd/core/dtype.h"

namespace chatterd {

// Per-request options. Unset optionals take the model's defaults (hparams / generate() defaults).
struct SynthesisOptions {
  std::optional<std::uint64_t> seed;  // unset: a fresh random seed per request
  std::optional<float> temperature;   // T3 sampling temperature
  std::optional<int> top_k;           // Turbo/Nano
  std::optional<float> top_p;
  std::optional<float> min_p;  // English/Multilingual
  std::optional<float> repetition_penalty;
  std::optional<float> cfg_weight;       // English/Multilingual classifier-free guidance
  std::optional<float> exaggeration;     // English/Multilingual emotion control
  std::optional<int> max_speech_tokens;  // cap on generated speech tokens
  int chunk_tokens = 50;                 // streaming: speech tokens per audio chunk (25..200)
  // Streaming (only with an on_chunk callback): token-level chunks as the speech tokens are
  // produced. false: one chunk per text chunk (the best quality; first audio after the whole
  // text chunk). Without a callback synthesis is never streamed.
  bool streaming = true;
  // Tokens of the first streamed chunk (10..chunk_tokens); 0 = adaptive (engine-specific rule:
  // small when the engine is slow or the text short). Fixing it makes streamed audio repeatable.
  int first_chunk_tokens = 0;
  std::string language;  // Multilingual: ISO code ("en", "fr", ...); else empty
  // Join the engine's continuous batching when it runs one; false: this request's token
  // generation runs alone (lowest latency for it, no weight reads shared with others).
  bool batching = true;
};

struct SynthesisRequest {
  std::string text;   // UTF-8
  std::string voice;  // a voice name known to the engine; empty = the engine's default voice
  SynthesisOptions options;
};

// One piece of streamed audio. `samples` is valid only during the callback.
struct AudioChunk {
  std::span<const float> samples;  // mono, [-1, 1]
  int sample_rate_hz = 24000;
  std::int64_t index = 0;  // 0, 1, 2, ... in order
  bool is_last = false;
};

// Return false to cancel the synthesis (the engine stops at its next step).
using ChunkCallback = std::function<bool(const AudioChunk&)>;

// Time one stage of a request took (benchmarks). Stage names are the engine's own ("t3_decode",
// "hift", "espeak", ...): engines differ in their stages.
struct StageTime {
  std::string name;
  double ms = 0.0;
  // The largest process resident set sampled at the end of any segment of this stage during the
  // request (the whole process: concurrent requests and other threads count too); 0 = not
  // measured.
  std::int64_t peak_rss_bytes = 0;
};

struct SynthesisStats {
  double time_to_first_audio_ms = 0.0;
  double total_ms = 0.0;
  double audio_seconds = 0.0;
  double real_time_factor = 0.0;  // total time / audio duration
  std::int64_t speech_tokens = 0;
  std::int64_t chunks = 0;
  // Token timing of autoregressive engines (0 where an engine has no such stage): start of
  // synthesis to the first sampled speech token, and the decode steps after each text chunk's
  // first token with the time they took (decode_ms / decode_steps = time per token).
  double time_to_first_token_ms = 0.0;
  std::int64_t decode_steps = 0;
  double decode_ms = 0.0;
  std::vector<StageTime> stages;  // where total_ms went, in pipeline order; empty if not measured
  // Replayed from a request cache: nothing was synthesised, every time above is 0 (a load
  // estimate or latency histogram must skip it).
  bool cached = false;
};

struct SynthesisResult {
  std::vector<float> samples;  // the whole utterance (also when streamed)
  int sample_rate_hz = 24000;
  bool cancelled = false;
  SynthesisStats stats;
};

struct EngineInfo {
  std::string name;  // "espeak-ng", "chatterbox-turbo", ...
  int sample_rate_hz = 24000;
  std::vector<std::string> voices;  // names accepted in SynthesisRequest::voice
  // Where T3 runs: "cpu", or the CUDA device ("cuda:0 NVIDIA H100 80GB HBM3 (sm_90, ...)").
  std::string device = "cpu";
  // Where the vocoder's heavy stages (S3Gen's encoder, CFM estimator and solver, HiFT's conv
  // stack) run: "cpu", or "cuda:0 (bf16)" (their matrices' dtype). HiFT's f0 predictor and
  // source stay on the CPU.
  std::string vocoder_device = "cpu";
};

// Engine-internal events a server watches for metrics and tracing. Called on the engine's own
// threads while requests run: implementations must be thread-safe and cheap (no I/O, no locks
// held for long).
// Why the vocoder batcher ran a batch (pipeline/vocoder_batcher.h).
enum class VocoderBatchTrigger {
  Full,      // max_batch_size windows waited, or every active stream did
  Early,     // the early-fire share of the expected batch waited
  Timeout,   // the oldest window waited max_wait_ms
  FastPath,  // one active stream: solved at once on its own thread
};
inline constexpr int kVocoderBatchTriggers = 4;
std::string_view vocoder_batch_trigger_name(VocoderBatchTrigger trigger);  // "full", ...

// One batch of S3Gen flow solves over the windows of several streams.
struct VocoderBatchEvent {
  VocoderBatchTrigger trigger = VocoderBatchTrigger::FastPath;
  std::int64_t windows = 0;      // windows solved
  std::int64_t sub_batches = 0;  // length-sorted groups, one estimator batch each
  std::int64_t queue_depth = 0;  // windows waiting when it fired (these included)
  std::int64_t voices = 0;       // distinct voice keys among them
  std::vector<double> wait_ms;   // per window: submitted -> batch start
  std::chrono::steady_clock::time_point start, end;
};

class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  // One batched T3 decode step over `rows` requests, [start, end).
  virtual void on_batch_step(std::int64_t rows, std::chrono::steady_clock::time_point start,
                             std::chrono::steady_clock::time_point end) = 0;
  // One vocoder batch (engines that batch S3Gen work across streams).
  virtual void on_vocoder_batch(const VocoderBatchEvent& /*event*/) {}
};

// Memory an engine holds for the state of its requests (metrics). KV caches are carved in blocks
// from a pool that keeps freed blocks for the next request.
struct EngineMemoryStats {
  std::int64_t kv_cache_bytes_in_use = 0;       // blocks held by requests and voice prefixes
  std::int64_t kv_cache_bytes_allocated = 0;    // taken from the system: in use + free blocks
  std::int64_t kv_cache_peak_bytes_in_use = 0;  // the most ever in use at once
  // CUDA engines: device memory handed out by the caching allocators (T3: KV slots, weights,
  // scratch; the vocoder's flow estimator and HiFT stack), the most at once (summed over the
  // allocators: an upper bound), and freed blocks kept for reuse. 0 on the CPU.
  std::int64_t device_bytes_in_use = 0;
  std::int64_t device_peak_bytes_in_use = 0;
  std::int64_t device_bytes_cached = 0;
  // The whole GPU as NVML sees it (every process), read at the same time; gpu_telemetry is false
  // where there is no NVML (no driver, CPU engines) and the fields are then 0.
  bool gpu_telemetry = false;
  std::int64_t gpu_memory_used_bytes = 0;
  std::int64_t gpu_memory_total_bytes = 0;
  int gpu_utilization_percent = 0;         // share of the last sample period a kernel ran
  int gpu_memory_utilization_percent = 0;  // share of it device memory was read or written
  // CUDA engines: GPU time since start per stage, measured with CUDA events around each batch
  // step of T3 and each device call of the S3Gen flow (encoder, solves) and of HiFT's conv stack,
  // and how many were timed; device_timing is false (and these 0) where nothing runs on a GPU.
  // Busy time over wall time is the stage's share of the GPU.
  bool device_timing = false;
  double device_t3_ms = 0.0;
  std::int64_t device_t3_steps = 0;
  double device_flow_ms = 0.0;
  std::int64_t device_flow_calls = 0;
  double device_hift_ms = 0.0;
  std::int64_t device_hift_calls = 0;
  // A request cache in front of the engine (CachingEngine; all 0 without one): audio held, and
  // lookups since start (hits replayed stored audio; misses were cacheable and synthesised).
  bool request_cache = false;
  std::int64_t request_cache_bytes = 0;
  std::int64_t request_cache_entries = 0;
  std::int64_t request_cache_hits = 0;
  std::int64_t request_cache_misses = 0;
  std::int64_t request_cache_evictions = 0;
};

class TtsEngine {
 public:
  virtual ~TtsEngine() = default;
  TtsEngine() = default;
  TtsEngine(const TtsEngine&) = delete;
  TtsEngine& operator=(const TtsEngine&) = delete;

  virtual const EngineInfo& info() const = 0;
  // Synthesises `request`, calling `on_chunk` (if set) for each piece of audio as it is ready.
  // Safe to call from several threads. Throws chatterd::Error subclasses for bad input
  // (InvalidArgument for text/options/voice problems).
  virtual SynthesisResult synthesize(const SynthesisRequest& request,
                                     const ChunkCallback& on_chunk = {}) = 0;
  // How many synthesize() calls the engine usefully runs at once: a server runs this many
  // workers. 1 unless the engine batches concurrent requests.
  virtual int max_concurrency() const { return 1; }
  // Reports engine-internal events to `observer` from now on (nullptr: stop). The observer must
  // outlive the engine's use of it: reset to nullptr before destroying it. Engines without such
  // events ignore it.
  virtual void set_observer(EngineObserver* /*observer*/) {}
  // What the engine holds for its requests now (zero where it keeps no such state).
  virtual EngineMemoryStats memory_stats() const { return {}; }
};

// Which engine to build. `model` is parsed once, here: "espeak", "espeak:<voice>", a model
// directory (Hugging Face layout), or "synthetic:<variant>" (random weights, real dimensions).
// How the T3 transformer's big matrices (attention, MLP, speech head) are held for inference;
// converted once at load. Int8 is q8_0 (blocks of 32 with an f32 scale; activations are
// quantised the same way per call). Int4 is q4_0 (blocks of 32 with an f16 scale, 4-bit codes;
// activations as Int8): half Int8's bytes for a memory-bound decode step, at a larger logit error
// (docs/performance.md). Other models and tensors keep their stored dtype.
enum class WeightDType { F32, F16, BF16, Int8, Int4 };
std::string_view weight_dtype_name(WeightDType dtype);  // "f32", "f16", "bf16", "int8", "int4"
// Parses a name of weight_dtype_name; throws InvalidArgument naming the accepted values.
WeightDType parse_weight_dtype(std::string_view name);

// A compute device: "cpu", "cuda" (device 0) or "cuda:N".
struct DeviceSpec {
  Device kind = Device::CPU;
  int index = 0;
  friend bool operator==(const DeviceSpec&, const DeviceSpec&) = default;
};
// Throws InvalidArgument naming the accepted forms.
DeviceSpec parse_device_spec(std::string_view text);
std::string device_spec_name(const DeviceSpec& device);  // "cpu", "cuda:0"

struct EngineConfig {
  std::string model = "espeak";
  int n_threads = 0;        // 0: one per hardware core
  std::string voice_store;  // directory of saved voices (`chatterd voice add`); "" = none
  WeightDType t3_dtype = WeightDType::F32;
  // The vocoder's (S3Gen encoder + estimator, HiFT) frame-wise matmuls and convs: f32, or bf16
  // (weights rounded once, activations per call, f32 sums; about 2x the f32 rate where the CPU
  // has AVX512_BF16, and ignored with a warning where it has not). Only f32 and bf16.
  WeightDType vocoder_dtype = WeightDType::F32;
  // > 1: continuous batching of T3 across up to this many concurrent requests (Turbo/Nano; other
  // models refuse it). 1: requests run one at a time.
  int max_batch = 1;
  // > 1: the S3Gen flow solves of up to this many concurrent streams' windows run as one batch
  // (VocoderBatcher, Chatterbox models); 1: each stream solves its own windows.
  int vocoder_batch = 1;
  double vocoder_max_wait_ms = 5.0;        // a waiting window fires at this age
  double vocoder_early_fire_ratio = 0.75;  // fire once this share of the expected batch waits
  // Where the model runs: the CPU, or a CUDA device (Chatterbox models: T3, the S3Gen flow and
  // HiFT's conv stack). On CUDA every request's T3 joins one batch loop of max_batch streams that
  // owns the device; t3_dtype must stay f32 there (the device holds the matrices in bf16).
  DeviceSpec device;
  // CUDA: KV positions per stream (prefill + generated tokens); bounds device memory (a longer
  // request stops early, a longer prefill is refused).
  std::int64_t device_slot_positions = 2048;
  void validate() const;
};

std::unique_ptr<TtsEngine> create_engine(const EngineConfig& config);

}  // namespace chatterd
