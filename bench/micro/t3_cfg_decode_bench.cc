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

#include "core/thread_pool.h"
#include "models/t3/t3_model.h"
#include "models/t3/t3_synthetic.h"

namespace chatterd {
namespace {

constexpr std::int64_t kContext = 400;

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

int thread_count(std::int64_t arg) {
  return arg == 0 ? ThreadPool::hardware_threads() : static_cast<int>(arg);
}

double read_bandwidth(int threads) {
  static std::map<int, double> measured;
  if (const auto it = measured.find(threads); it != measured.end()) return it->second;
  const std::size_t n = (std::size_t{512} << 20) / sizeof(float);
  std::vector<float> buf(n, 1.0f);
  ThreadPool pool(threads);
  double best = 0.0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::int64_t chunks = threads * 8;
    pool.parallel_for(chunks, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t c = b; c < e; ++c) {
        const std::size_t lo = n * static_cast<std::size_t>(c) / static_cast<std::size_t>(chunks);
        const std::size_t hi =
            n * static_cast<std::size_t>(c + 1) / static_cast<std::size_t>(chunks);
        float acc[16] = {};
        std::size_t i = lo;
        for (; i + 16 <= hi; i += 16) {
          for (int j = 0; j < 16; ++j) acc[j] += buf[i + static_cast<std::size_t>(j)];
        }
        float s = 0.0f;
        for (const float a : acc) s += a;
        benchmark::DoNotOptimize(s);
      }
    });
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(n * sizeof(float)) / sec);
  }
  measured[threads] = best;
  return best;
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
  const int threads = thread_count(state.range(1));
  ThreadPool pool(threads);
  const ExecContext ctx{threads > 1 ? &pool : nullptr};
  const std::int64_t d = model->config().hidden_size;
  T3State st = model->new_state(kContext + 1, rows);
  model->forward(ctx, random_embeds(Shape{rows, kContext, d}), st);
  const Tensor step = random_embeds(Shape{rows, 1, d});
  for (auto _ : state) {
    model->forward(ctx, step, st);
    benchmark::DoNotOptimize(st.logits.raw_data());
    state.PauseTiming();
    for (auto& c : st.caches) c.truncate(kContext);
    state.ResumeTiming();
  }
  const double bytes = static_cast<double>(model->decode_weight_bytes());
  const double bw = read_bandwidth(threads);
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
