// HiFT-sized convolutions (F = 250 mel frames, about 5 s of audio).
#include <benchmark/benchmark.h>

#include <memory>
#include <random>

#include "backends/cpu/gemm_bf16.h"
#include "bench_util.h"
#include "core/thread_pool.h"
#include "ops/conv1d.h"
#include "ops/conv_transpose1d.h"
#include "ops/gemm_bf16.h"
#include "ops/linear.h"

namespace chatterd::ops {
namespace {

// A stage-0 HiFT resblock conv: 256 -> 256 channels, k=7, dilation 3, at 8F = 2000 samples.
// range(0): threads.
void BM_Conv1dHiftResblock(benchmark::State& state) {
  const std::int64_t C = 256, T = 2000, K = 7, dil = 3;
  std::mt19937 rng(1);
  Tensor x = bench::random_f32({1, C, T}, rng);
  Tensor w = bench::random_f32({C, C, K}, rng);
  Tensor b = bench::random_f32({C}, rng);
  auto pool = std::make_unique<ThreadPool>(static_cast<int>(state.range(0)));
  ExecContext ctx{state.range(0) > 1 ? pool.get() : nullptr};
  const Conv1dOptions opt{1, dil, 1, dil * (K - 1) / 2, dil * (K - 1) / 2};
  Tensor out;
  for (auto _ : state) {
    conv1d(ctx, x, w, &b, opt, out);
    benchmark::DoNotOptimize(out.raw_data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * 2 * C * C * K * T),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_Conv1dHiftResblock)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

// f32 sgemm against the bf16 tiles on the vocoder's shapes, side by side. range(0): 0 = f32
// (im2col + sgemm / sgemm), 1 = bf16 on the AVX-512 tile (vdpbf16ps), 2 = bf16 on AMX blocks
// (where the CPU has AMX-BF16); range(1): threads;
// range(2): shape: 0 = HiFT stage-0 resblock conv (256 ch, k7 d3, 2000 frames), 1 = estimator
// resnet conv (256 ch, k3 causal, 230 frames), 2 = estimator ff_in linear (230 x 256 -> 1024).
void BM_VocoderGemm(benchmark::State& state) {
  const bool bf16 = state.range(0) >= 1;
  const int shape = static_cast<int>(state.range(2));
  auto pool = std::make_unique<ThreadPool>(static_cast<int>(state.range(1)));
  ExecContext ctx{state.range(1) > 1 ? pool.get() : nullptr};
  ctx.amx = state.range(0) == 2;
  if (bf16 && !bf16_gemm_available(ctx)) {
    state.SkipWithError("no AVX512_BF16");
    return;
  }
  if (ctx.amx && !cpu::amx_bf16_available()) {
    state.SkipWithError("no AMX-BF16");
    return;
  }
  std::mt19937 rng(1);
  Tensor out;
  double flops = 0.0;
  if (shape == 2) {
    const std::int64_t M = 230, K = 256, N = 1024;
    const Tensor x = bench::random_f32({M, K}, rng);
    const Tensor w = bench::random_f32({N, K}, rng);
    const PackedBf16Weight p =
        bf16 ? pack_linear_bf16(ctx, w, WeightLayout::OutIn) : PackedBf16Weight{};
    for (auto _ : state) {
      if (bf16) {
        linear_bf16(ctx, x, p, nullptr, out);
      } else {
        linear(ctx, x, w, nullptr, out);
      }
      benchmark::DoNotOptimize(out.raw_data());
    }
    flops = 2.0 * static_cast<double>(M * K * N);
  } else {
    const std::int64_t C = 256, T = shape == 0 ? 2000 : 230, K = shape == 0 ? 7 : 3;
    const std::int64_t dil = shape == 0 ? 3 : 1;
    const Conv1dOptions opt =
        shape == 0 ? Conv1dOptions{1, dil, 1, 9, 9} : Conv1dOptions{1, 1, 1, 2, 0};
    const Tensor x = bench::random_f32({1, C, T}, rng);
    const Tensor w = bench::random_f32({C, C, K}, rng);
    const PackedBf16Weight p = bf16 ? pack_conv1d_bf16(ctx, w) : PackedBf16Weight{};
    for (auto _ : state) {
      if (bf16) {
        conv1d_bf16(ctx, x, p, nullptr, opt, out);
      } else {
        conv1d(ctx, x, w, nullptr, opt, out);
      }
      benchmark::DoNotOptimize(out.raw_data());
    }
    flops = 2.0 * static_cast<double>(C * C * K * T);
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * flops,
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_VocoderGemm)
    ->ArgsProduct({{0, 1, 2}, {1, 2}, {0, 1, 2}})
    ->ArgNames({"bf16", "threads", "shape"})
    ->Unit(benchmark::kMillisecond);

// HiFT ups[0]: ConvTranspose1d 512 -> 256, k16 s8 p4, F = 250 -> 2000.
void BM_ConvTranspose1dHiftUp0(benchmark::State& state) {
  const std::int64_t Ci = 512, Co = 256, T = 250, K = 16;
  std::mt19937 rng(1);
  Tensor x = bench::random_f32({1, Ci, T}, rng);
  Tensor w = bench::random_f32({Ci, Co, K}, rng);
  Tensor b = bench::random_f32({Co}, rng);
  auto pool = std::make_unique<ThreadPool>(static_cast<int>(state.range(0)));
  ExecContext ctx{state.range(0) > 1 ? pool.get() : nullptr};
  Tensor out;
  for (auto _ : state) {
    conv_transpose1d(ctx, x, w, &b, {8, 4, 0, 1, 1}, out);
    benchmark::DoNotOptimize(out.raw_data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * 2 * Ci * Co * K * T),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_ConvTranspose1dHiftUp0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chatterd::ops
