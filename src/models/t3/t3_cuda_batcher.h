#pragma once
// Continuous batching of T3 on a CUDA device: Turbo/Nano (T3CudaBatcher, below) and
// English/Multilingual (a CFG batcher: every stream's pair in two adjacent KV slots, one
// T3CudaLlamaDecoder::step for all rows, replayed as a CUDA graph per pair count, the English
// pick on the host over the downloaded logits).
//
// T3CudaBackend owns what every batcher on one device shares: the DeviceContext (stream, caching
// allocators, cuBLASLt) and the T3CudaDecoder (weights copied to the device once, matrices bf16).
// It is built on any thread; the batchers it makes are driven by one owner thread (the batch
// loop's), which makes the device current on every call.
//
// T3CudaBatcher (a T3StreamBatcher) gives each stream a fixed KV slot (backends/cuda/kv_slots.h):
// running streams fill slots [0, n), so a step is one launch sequence over the first n slots, and
// a stream that leaves is replaced by the last one (its KV rows copied into the hole). A step
// uploads each stream's newest token, its uniform and its sampling settings, runs the decode step
// and then the Turbo processor chain and the draw on the device (cuda::sample_turbo_rows), and
// reads back one token id per stream: the logits never leave the device. Per batch size the step
// runs eagerly once (sizing its scratch), then is captured as a CUDA graph and replayed.
//
// Tokens follow generate_speech_tokens(): the first pick runs on the host with the CPU chain on the
// prefill's logits, the callback is one step late, a trailing EOS is dropped, and a stream's
// uniforms come from Rng(seed) in the CPU Sampler's order. Device logits differ from the CPU's by
// bf16 matrices and activations and f16 keys/values (an f32 CPU T3 keeps f32 ones), so a
// sampled token can differ where two candidates are that close. One more
// limit than the CPU's: a stream also stops when its slot is full (slot_positions, which bounds
// device memory; paged device KV is future work), and a prefill longer than a slot is refused.

#include <cstdint>
#include <memory>
#include <string>

#include "models/t3/t3_model.h"
#include "models/t3/t3_stream_batcher.h"

namespace chatterd {

struct T3CudaOptions {
  int device = 0;
  // KV positions per stream slot (prefill + generated tokens). Turbo's 24 layers x 1024 hold
  // 96 KiB per position in f16: 2048 positions are 192 MiB per stream. English/Multilingual
  // hold two slots (the CFG pair) of 30 layers x 16 heads: 240 MiB each, 480 MiB per stream.
  std::int64_t slot_positions = 2048;
  bool graphs = true;  // replay each batch size's step as a CUDA graph
  void validate() const;
};

struct T3CudaMemoryStats {
  std::int64_t bytes_in_use = 0;  // device memory handed out by the caching allocator
  std::int64_t bytes_cached = 0;  // freed, kept for reuse
  std::int64_t peak_bytes_in_use = 0;
  // NVML's view of the whole GPU (every process); nvml false where NVML cannot be read.
  bool nvml = false;
  std::int64_t gpu_memory_used = 0;
  std::int64_t gpu_memory_total = 0;
  int gpu_percent = 0;
  int gpu_memory_percent = 0;
  // GPU time of the batch steps since start (CUDA events around each step: inputs up, the decode
  // step, the pick, tokens or logits down) and how many steps were timed.
  double step_device_ms = 0.0;
  std::int64_t timed_steps = 0;
};

class T3CudaBackend {
 public:
  // Copies the decoder (GPT-2 or Llama) to the device. Throws Unsupported where the build has no
  // CUDA backend or no device is visible (with the runtime's reason), InvalidArgument for bad
  // options. `model` must outlive the backend (its host half makes the prefill embeddings).
  T3CudaBackend(const T3Model& model, const T3CudaOptions& options);
  ~T3CudaBackend();
  T3CudaBackend(const T3CudaBackend&) = delete;
  T3CudaBackend& operator=(const T3CudaBackend&) = delete;

  // A batcher for up to `max_batch` streams (its KV slots are allocated here).
  std::unique_ptr<T3StreamBatcher> make_batcher(std::int64_t max_batch) const;

  // "cuda:0 NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 80 GiB)".
  const std::string& description() const { return description_; }
  // Thread-safe (metrics scrapes read it while the loop runs).
  T3CudaMemoryStats memory() const;
  const T3CudaOptions& options() const { return options_; }

  struct Impl;  // the CUDA half (t3_cuda_batcher.cc)

 private:
  T3CudaOptions options_;
  std::string description_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace chatterd
