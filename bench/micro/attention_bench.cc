// T3 decode attention (Turbo: 16 heads x 64, a 500-token context) and a causal prefill.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>

#include "bench_util.h"
#include "core/thread_pool.h"
#include "ops/attention.h"
#include "ops/kv_cache.h"

namespace chatterd::ops {
namespace {

// range(0): context length; range(1): threads; range(2): 1 = f16 cache (else f32).
void BM_AttentionDecode(benchmark::State& state) {
  const std::int64_t heads = 16, dim = 64, context = state.range(0);
  const DType dtype = state.range(2) != 0 ? DType::F16 : DType::F32;
  std::mt19937 rng(1);
  KvCache cache(std::make_shared<KvBlockPool>(KvLayout{heads, dim, dtype}));
  cache.append({}, bench::random_f32({context, heads, dim}, rng),
               bench::random_f32({context, heads, dim}, rng));
  Tensor q = bench::random_f32({1, heads, dim}, rng);
  auto pool = std::make_unique<ThreadPool>(static_cast<int>(state.range(1)));
  ExecContext ctx{state.range(1) > 1 ? pool.get() : nullptr};
  AttentionOptions opt;
  opt.causal = true;
  Tensor out;
  for (auto _ : state) {
    attention(ctx, q, cache, opt, out);
    benchmark::DoNotOptimize(out.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * 2 * context * heads * dim *
                          static_cast<std::int64_t>(dtype_block_bytes(dtype)));
}
BENCHMARK(BM_AttentionDecode)
    ->ArgNames({"context", "threads", "f16"})
    ->ArgsProduct({{500, 2000}, {1, 2}, {0, 1}});

void BM_AttentionPrefill(benchmark::State& state) {
  const std::int64_t heads = 16, dim = 64, n = state.range(0);
  std::mt19937 rng(1);
  Tensor q = bench::random_f32({n, heads, dim}, rng);
  Tensor k = bench::random_f32({n, heads, dim}, rng);
  Tensor v = bench::random_f32({n, heads, dim}, rng);
  auto pool = std::make_unique<ThreadPool>(static_cast<int>(state.range(1)));
  ExecContext ctx{state.range(1) > 1 ? pool.get() : nullptr};
  AttentionOptions opt;
  opt.causal = true;
  Tensor out;
  for (auto _ : state) {
    attention(ctx, q, k, v, opt, out);
    benchmark::DoNotOptimize(out.raw_data());
  }
  // QK^T and PV, halved by the causal mask.
  state.counters["GFLOP/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * 2 * n * n * dim * heads),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_AttentionPrefill)->Args({500, 1})->Args({500, 2});

}  // namespace
}  // namespace chatterd::ops
