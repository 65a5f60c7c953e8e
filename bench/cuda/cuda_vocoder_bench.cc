// The vocoder with its heavy stages on the device, at the real dimensions (synthetic weights),
// wall time as a request pays it (uploads, the final download and the host stages included).
// CudaFlowSolve: S3GenFlow::solve_batch with the estimator on the device (S3GenFlow::use_device);
// the encoder (on the device too) runs once before timing.
//   args: variant (0 turbo: meanflow, 2 steps; 2 english: CFG, 10 steps), shape (0: B streaming
//   windows of 115 tokens = 224 frames after the trimmed lookahead; 1: one 10 s utterance after a
//   10 s prompt = 1000 frames), B, matrices (0 f32, 1 bf16).
// Counters: ms_per_item, frames (per item), rtf = solve time / audio seconds of the items' new
// frames (50 frames per second).

#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <vector>

#include "backends/cuda/device.h"
#include "core/rng.h"
#include "core/thread_pool.h"
#include "models/hift/hift.h"
#include "models/s3gen/s3gen_flow.h"
#include "models/synthetic_weights.h"

namespace chatterd {
namespace {

constexpr std::int64_t kVocab = 6561;

Tensor random_tokens(Rng& rng, std::int64_t n) {
  std::vector<std::int64_t> t(static_cast<std::size_t>(n));
  for (auto& v : t) v = static_cast<std::int64_t>(rng.next_u64() % kVocab);
  return Tensor::from_span<std::int64_t>(t, {1, n});
}

S3GenPrompt random_prompt(const S3GenConfig& c, Rng& rng, std::int64_t tokens) {
  S3GenPrompt p;
  p.tokens = random_tokens(rng, tokens);
  p.mel = Tensor::empty({1, c.token_mel_ratio * tokens, c.mel_bins}, DType::F32);
  rng.fill_normal(p.mel.data<float>(), p.mel.numel());
  p.embedding = Tensor::empty({1, c.spk_embed_dim}, DType::F32);
  rng.fill_normal(p.embedding.data<float>(), p.embedding.numel());
  return p;
}

void BM_CudaFlowSolve(benchmark::State& state) {
  if (cuda::device_count() == 0) {
    return state.SkipWithError(("no CUDA device: " + cuda::no_device_reason()).c_str());
  }
  const Variant variant = state.range(0) == 0 ? Variant::Turbo : Variant::English;
  const bool window = state.range(1) == 0;
  const std::int64_t batch = state.range(2);
  const DType dtype = state.range(3) != 0 ? DType::BF16 : DType::F32;
  const S3GenConfig config = S3GenConfig::defaults(variant);
  const auto weights = make_synthetic_weights(s3gen_flow_tensor_specs(config), 1, "synthetic");
  S3GenFlow flow(*weights, config);
  flow.use_device(0, dtype);
  ThreadPool pool(ThreadPool::hardware_threads());
  ExecContext ctx;
  ctx.pool = pool.size() > 1 ? &pool : nullptr;
  Rng rng(11);
  // Window: 50 prompt tokens + 65 tokens (12 context, 50 new, 3 lookahead), lookahead trimmed.
  const S3GenPrompt prompt = random_prompt(config, rng, window ? 50 : 250);
  std::vector<FlowEncoding> encs;
  std::vector<Tensor> zs;
  std::int64_t new_frames = 0;
  for (std::int64_t i = 0; i < batch; ++i) {
    const Tensor speech = random_tokens(rng, window ? 65 : 250);
    encs.push_back(flow.encode(ctx, speech, prompt, /*finalize=*/!window));
    const std::int64_t frames = encs.back().mu.dim(2);
    zs.push_back(flow.draw_noise(rng, frames, frames - encs.back().prompt_frames));
    new_frames += window ? 2 * 50 : frames - encs.back().prompt_frames;
  }
  std::vector<const FlowEncoding*> enc_ptrs;
  std::vector<const Tensor*> z_ptrs;
  for (std::int64_t i = 0; i < batch; ++i) {
    enc_ptrs.push_back(&encs[static_cast<std::size_t>(i)]);
    z_ptrs.push_back(&zs[static_cast<std::size_t>(i)]);
  }
  const std::int64_t steps = config.n_cfm_timesteps;
  (void)flow.solve_batch(ctx, enc_ptrs, z_ptrs, steps);  // warm: caches, cuBLASLt plans
  double seconds = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto out = flow.solve_batch(ctx, enc_ptrs, z_ptrs, steps);
    benchmark::DoNotOptimize(out.front().raw_data());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(s);
    seconds += s;
  }
  const double per_call = seconds / static_cast<double>(state.iterations());
  state.counters["ms_per_item"] = per_call * 1e3 / static_cast<double>(batch);
  state.counters["frames"] = static_cast<double>(encs.front().mu.dim(2));
  state.counters["rtf"] = per_call / (static_cast<double>(new_frames) / 50.0);
}
BENCHMARK(BM_CudaFlowSolve)
    ->ArgNames({"variant", "utterance", "batch", "bf16"})
    ->Args({0, 0, 1, 1})
    ->Args({0, 0, 8, 1})
    ->Args({0, 1, 1, 1})
    ->Args({0, 0, 1, 0})
    ->Args({2, 0, 1, 1})
    ->Args({2, 0, 8, 1})
    ->Args({2, 1, 1, 1})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5);

// CudaHiftInfer: Hift::infer with the conv stack on the device (Hift::use_device), for F mel
// frames (50 per second); f0 predictor, SineGen and the STFTs on the host (one thread).
//   args: frames, matrices (0 f32, 1 bf16). Counter rtf = wall time / audio seconds.
void BM_CudaHiftInfer(benchmark::State& state) {
  if (cuda::device_count() == 0) {
    return state.SkipWithError(("no CUDA device: " + cuda::no_device_reason()).c_str());
  }
  const std::int64_t frames = state.range(0);
  const DType dtype = state.range(1) != 0 ? DType::BF16 : DType::F32;
  const S3GenConfig config = S3GenConfig::defaults(Variant::Turbo);
  const auto weights = make_synthetic_weights(hift_tensor_specs(config), 42, "synthetic");
  hift::Hift model(*weights, config.hift);
  model.use_device(0, dtype);
  Rng rng(3);
  Tensor mel = Tensor::empty({1, config.hift.in_channels, frames}, DType::F32);
  rng.fill_normal(mel.data<float>(), mel.numel());
  const ExecContext ctx;
  (void)model.infer(ctx, mel, rng);  // warm
  double seconds = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const hift::HiftOutput out = model.infer(ctx, mel, rng);
    benchmark::DoNotOptimize(out.wav.raw_data());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(s);
    seconds += s;
  }
  state.counters["rtf"] =
      seconds / static_cast<double>(state.iterations()) / (static_cast<double>(frames) / 50.0);
}
BENCHMARK(BM_CudaHiftInfer)
    ->ArgNames({"frames", "bf16"})
    ->Args({100, 1})
    ->Args({500, 1})
    ->Args({100, 0})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5);

}  // namespace
}  // namespace chatterd
