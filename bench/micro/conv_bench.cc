// HiFT-sized convolutions (F = 250 mel frames, about 5 s of audio).
#include <benchmark/benchmark.h>

#include <memory>
#include <random>

#include "core/thread_pool.h"
#include "ops/conv1d.h"
#include "ops/conv_transpose1d.h"

namespace chatterd::ops {
namespace {

Tensor random_tensor(const Shape& shape, std::mt19937& rng) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

// A stage-0 HiFT resblock conv: 256 -> 256 channels, k=7, dilation 3, at 8F = 2000 samples.
// range(0): threads.
void BM_Conv1dHiftResblock(benchmark::State& state) {
  const std::int64_t C = 256, T = 2000, K = 7, dil = 3;
  std::mt19937 rng(1);
  Tensor x = random_tensor({1, C, T}, rng);
  Tensor w = random_tensor({C, C, K}, rng);
  Tensor b = random_tensor({C}, rng);
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

// HiFT ups[0]: ConvTranspose1d 512 -> 256, k16 s8 p4, F = 250 -> 2000.
void BM_ConvTranspose1dHiftUp0(benchmark::State& state) {
  const std::int64_t Ci = 512, Co = 256, T = 250, K = 16;
  std::mt19937 rng(1);
  Tensor x = random_tensor({1, Ci, T}, rng);
  Tensor w = random_tensor({Ci, Co, K}, rng);
  Tensor b = random_tensor({Co}, rng);
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
