// English T3 (Llama backbone, synthetic:english weights of the real dimensions): one CFG decode
// step -- the conditional and unconditional rows together (M = 2, one weight read for both) --
// at a ~400-token context, plus the same step with one row (cfg_weight 0) for comparison. Each
// row reports the memory-bandwidth floor: bytes of weights one step reads / read bandwidth
// measured here (multi-accumulator read-only sweep over 512 MiB, same thread count).
// range(0): rows (2 = CFG pair, 1 = single); range(1): threads (0 = all cores); range(2): dtype.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "core/thread_pool.h"
#include "models/t3/t3_model.h"
#include "models/t3/t3_synthetic.h"

namespace chatterd {
namespace {

constexpr std::int64_t kCfgContext = 400;

std::shared_ptr<const T3Model> model_for(DType dtype) {
  // One model at a time: the f32 English T3 is ~2 GB.
  static std::shared_ptr<const T3Model> model;
  static DType loaded = DType::I64;
  if (!model || loaded != dtype) {
    model.reset();
    model = make_synthetic_t3(Variant::English, 1, dtype);
    loaded = dtype;
  }
  return model;
}

Tensor random_embeds(const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

void BM_T3CfgDecode(benchmark::State& state) {
  const std::int64_t rows = state.range(0);
  const auto dtype = static_cast<DType>(state.range(2));
  const auto model = model_for(dtype);
  const int threads = bench::thread_count(state.range(1));
  ThreadPool pool(threads);
  const ExecContext ctx{threads > 1 ? &pool : nullptr};
  const std::int64_t d = model->config().hidden_size;
  T3State st = model->new_state(kCfgContext + 1, rows);
  model->forward(ctx, random_embeds(Shape{rows, kCfgContext, d}), st);
  const Tensor step = random_embeds(Shape{rows, 1, d});
  for (auto _ : state) {
    model->forward(ctx, step, st);
    benchmark::DoNotOptimize(st.logits.raw_data());
    state.PauseTiming();
    for (auto& c : st.caches) c.truncate(kCfgContext);
    state.ResumeTiming();
  }
  const double bytes = static_cast<double>(model->decode_weight_bytes());
  const double bw = bench::read_bandwidth(threads).wall;
  state.counters["weights_MB"] = bytes / 1e6;
  state.counters["read_GB/s"] = bw / 1e9;
  state.counters["floor_ms"] = bytes / bw * 1e3;
  state.SetLabel("english rows=" + std::to_string(rows) + " " + std::string(dtype_name(dtype)) +
                 " threads=" + std::to_string(threads));
}

void args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"rows", "threads", "dtype"});
  for (const auto dt : {DType::F16, DType::F32}) {
    for (const int t : {1, 0}) {
      for (const int r : {2, 1}) b->Args({r, t, static_cast<int>(dt)});
    }
  }
}

BENCHMARK(BM_T3CfgDecode)->Apply(args)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chatterd
