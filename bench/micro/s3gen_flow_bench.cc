// S3Gen flow at the real Turbo dimensions (synthetic weights): the encoder over a 10 s prompt
// (250 prompt tokens = 500 frames) plus N seconds of speech (25 tokens/s), and one meanflow
// estimator step over the same frames. range(0): seconds of generated audio, range(1): threads
// (0 = all cores), range(2): 1 = bf16 vocoder weights (S3GenFlow::pack_bf16), 0 = f32.
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "core/rng.h"
#include "core/thread_pool.h"
#include "models/s3gen/s3gen_flow.h"
#include "models/synthetic_weights.h"
#include "ops/layout.h"

namespace chatterd {
namespace {

constexpr std::int64_t kPromptTokens = 250;  // 10 s at 25 tokens/s
constexpr std::int64_t kTokensPerSecond = 25;

struct FlowFixture {
  explicit FlowFixture(bool bf16) {
    if (bf16) bf16_ok = flow.pack_bf16(ExecContext{});
  }
  S3GenConfig config = S3GenConfig::defaults(Variant::Turbo);
  std::shared_ptr<WeightStore> weights =
      make_synthetic_weights(s3gen_flow_tensor_specs(config), 1, "synthetic:turbo");
  S3GenFlow flow{*weights, config};
  bool bf16_ok = true;
};

FlowFixture& fixture(std::int64_t bf16) {
  static FlowFixture f32(false);
  if (bf16 == 0) return f32;
  static FlowFixture b(true);
  return b;
}

S3GenPrompt prompt(const S3GenConfig& c, Rng& rng) {
  S3GenPrompt p;
  std::vector<std::int64_t> t(kPromptTokens);
  for (auto& v : t) v = static_cast<std::int64_t>(rng.next_u64() % 6561);
  p.tokens = Tensor::from_span<std::int64_t>(t, {1, kPromptTokens});
  p.mel = Tensor::empty({1, 2 * kPromptTokens, c.mel_bins}, DType::F32);
  rng.fill_normal(p.mel.data<float>(), p.mel.numel());
  p.embedding = Tensor::empty({1, c.spk_embed_dim}, DType::F32);
  rng.fill_normal(p.embedding.data<float>(), p.embedding.numel());
  return p;
}

Tensor speech(std::int64_t seconds, Rng& rng) {
  std::vector<std::int64_t> t(static_cast<std::size_t>(seconds * kTokensPerSecond));
  for (auto& v : t) v = static_cast<std::int64_t>(rng.next_u64() % 6561);
  return Tensor::from_span<std::int64_t>(t, {1, static_cast<std::int64_t>(t.size())});
}

std::unique_ptr<ThreadPool> make_pool(std::int64_t threads) {
  const int n = threads == 0 ? ThreadPool::hardware_threads() : static_cast<int>(threads);
  return std::make_unique<ThreadPool>(n);
}

void BM_S3GenFlowEncoder(benchmark::State& state) {
  auto& f = fixture(state.range(2));
  if (!f.bf16_ok) return state.SkipWithError("no AVX512_BF16");
  Rng rng(5);
  const S3GenPrompt p = prompt(f.config, rng);
  const Tensor tokens = speech(state.range(0), rng);
  auto pool = make_pool(state.range(1));
  ExecContext ctx;
  ctx.pool = pool->size() > 1 ? pool.get() : nullptr;
  for (auto _ : state) {
    const FlowEncoding enc = f.flow.encode(ctx, tokens, p);
    benchmark::DoNotOptimize(enc.mu.raw_data());
  }
  state.counters["frames"] = static_cast<double>(2 * (kPromptTokens + tokens.numel()));
  state.counters["threads"] = pool->size();
}

void BM_S3GenFlowEstimatorStep(benchmark::State& state) {
  auto& f = fixture(state.range(2));
  if (!f.bf16_ok) return state.SkipWithError("no AVX512_BF16");
  Rng rng(5);
  const S3GenPrompt p = prompt(f.config, rng);
  const Tensor tokens = speech(state.range(0), rng);
  auto pool = make_pool(state.range(1));
  ExecContext ctx;
  ctx.pool = pool->size() > 1 ? pool.get() : nullptr;
  const FlowEncoding enc = f.flow.encode(ctx, tokens, p);
  const Tensor z = f.flow.draw_noise(rng, enc.mu.dim(2), 2 * tokens.numel());
  const std::vector<float> t = {0.0f}, r = {0.5f};
  EstimatorInputs in{&z, &enc.mask, &enc.mu, &enc.spks, &enc.cond, t, r};
  Tensor out;
  for (auto _ : state) {
    f.flow.estimate(ctx, in, out);
    benchmark::DoNotOptimize(out.raw_data());
  }
  state.counters["frames"] = static_cast<double>(enc.mu.dim(2));
  state.counters["threads"] = pool->size();
}

void flow_args(benchmark::internal::Benchmark* b) {
  for (std::int64_t bf16 : {0, 1}) {
    for (std::int64_t threads : {1, 0}) {
      for (std::int64_t seconds : {1, 5, 10}) b->Args({seconds, threads, bf16});
    }
  }
  b->ArgNames({"seconds", "threads", "bf16"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

// The VocoderBatcher's question: B streaming windows (the default P 50 prompt + C 12 context +
// a 50-token chunk + R 3 lookahead = 115 tokens, 224 frames after the trimmed lookahead) solved
// one by one (batched 0) or as one S3GenFlow::solve_batch (batched 1). range(0): B,
// range(1): batched, range(2): bf16. All cores. Counter ms_per_window.
void BM_S3GenFlowSolveBatch(benchmark::State& state) {
  auto& f = fixture(state.range(2));
  if (!f.bf16_ok) return state.SkipWithError("no AVX512_BF16");
  const std::int64_t b = state.range(0);
  const bool batched = state.range(1) != 0;
  Rng rng(7);
  S3GenPrompt p = prompt(f.config, rng);
  {  // The window's prompt: the last 50 prompt tokens and their 100 frames.
    ExecContext serial;
    S3GenPrompt tail = p;
    ops::slice(serial, p.tokens, 1, kPromptTokens - 50, kPromptTokens, tail.tokens);
    ops::slice(serial, p.mel, 1, 2 * (kPromptTokens - 50), 2 * kPromptTokens, tail.mel);
    p = tail;
  }
  auto pool = make_pool(0);
  ExecContext ctx;
  ctx.pool = pool->size() > 1 ? pool.get() : nullptr;
  std::vector<FlowEncoding> encs;
  std::vector<Tensor> zs;
  for (std::int64_t i = 0; i < b; ++i) {
    std::vector<std::int64_t> t(65);
    for (auto& v : t) v = static_cast<std::int64_t>(rng.next_u64() % 6561);
    encs.push_back(f.flow.encode(ctx, Tensor::from_span<std::int64_t>(t, {1, 65}), p, false));
    zs.push_back(f.flow.draw_noise(rng, encs.back().mu.dim(2), 2 * 62));
  }
  std::vector<const FlowEncoding*> enc_ptrs;
  std::vector<const Tensor*> z_ptrs;
  for (std::int64_t i = 0; i < b; ++i) {
    enc_ptrs.push_back(&encs[static_cast<std::size_t>(i)]);
    z_ptrs.push_back(&zs[static_cast<std::size_t>(i)]);
  }
  const std::int64_t steps = f.config.n_cfm_timesteps;
  for (auto _ : state) {
    if (batched) {
      benchmark::DoNotOptimize(f.flow.solve_batch(ctx, enc_ptrs, z_ptrs, steps));
    } else {
      for (std::int64_t i = 0; i < b; ++i) {
        benchmark::DoNotOptimize(f.flow.solve(ctx, *enc_ptrs[static_cast<std::size_t>(i)],
                                              *z_ptrs[static_cast<std::size_t>(i)], steps));
      }
    }
  }
  state.counters["frames"] = static_cast<double>(encs.front().mu.dim(2));
  state.counters["ms_per_window"] = benchmark::Counter(
      static_cast<double>(b) * 1e-3,
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["threads"] = pool->size();
}

BENCHMARK(BM_S3GenFlowEncoder)->Apply(flow_args);
BENCHMARK(BM_S3GenFlowEstimatorStep)->Apply(flow_args);
BENCHMARK(BM_S3GenFlowSolveBatch)
    ->ArgsProduct({{1, 2, 4, 8}, {0, 1}, {0, 1}})
    ->ArgNames({"windows", "batched", "bf16"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace chatterd
