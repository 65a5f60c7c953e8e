// T3 (GPT-2 backbone) on synthetic weights of the real dimensions (synthetic:turbo,
// synthetic:nano):
//  - one decode step at a ~400-token context (the cache is truncated back after each step);
//  - a prefill of 400 tokens.
// Each decode row also reports the memory-bandwidth floor of that step: bytes of weights the step
// reads / read bandwidth measured here (a multi-accumulator read-only sweep over 512 MiB with the
// same thread count), i.e. the time the step would take if it only streamed its weights.
// range(0): variant (0 = turbo, 1 = nano); range(1): threads (0 = all cores); range(2): dtype of
// the matrices (f32/f16 stored as such; bf16, q8_0 and q4_0 converted at load as `--dtype
// bf16|int8|int4` does, from bf16 / f16 synthetic weights to keep the benchmark's memory down).
// Besides Google Benchmark's columns (wall; CPU of the main thread), proc_cpu_ms is the process
// CPU time per step (all threads): the machine is shared, so wall times are upper bounds.
// cpu_floor_ms is the floor on the same footing (the sweep's bytes per CPU second per thread):
// on a shared machine, % of floor = cpu_floor_ms / (proc_cpu_ms / threads).

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "core/thread_pool.h"
#include "models/t3/t3_model.h"
#include "models/t3/t3_synthetic.h"

namespace chatterd {
namespace {

constexpr std::int64_t kContext = 400;

std::shared_ptr<const T3Model> model_for(int variant, DType dtype) {
  // One model at a time: a turbo in every dtype at once would not fit a small machine.
  static std::pair<int, DType> key{-1, DType::F32};
  static std::shared_ptr<const T3Model> model;
  if (!model || key != std::pair{variant, dtype}) {
    model.reset();
    const Variant v = variant == 0 ? Variant::Turbo : Variant::Nano;
    if (dtype == DType::BF16 || dtype == DType::Q8_0 || dtype == DType::Q4_0) {
      model = make_synthetic_t3(v, 1, dtype == DType::BF16 ? DType::BF16 : DType::F16, dtype);
    } else {
      model = make_synthetic_t3(v, 1, dtype);
    }
    key = {variant, dtype};
  }
  return model;
}

double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

int thread_count(std::int64_t arg) {
  return arg == 0 ? ThreadPool::hardware_threads() : static_cast<int>(arg);
}

struct Bandwidth {
  double wall = 0.0;  // bytes per wall second
  double cpu = 0.0;   // bytes per CPU second per thread: what a running thread streams, which
                      // stays meaningful when the machine is shared (descheduled time excluded)
};

// Read bandwidth with `threads` threads (best of 5 sweeps).
Bandwidth read_bandwidth(int threads) {
  static std::map<int, Bandwidth> measured;
  if (const auto it = measured.find(threads); it != measured.end()) return it->second;
  const std::size_t n = (std::size_t{512} << 20) / sizeof(float);
  std::vector<float> buf(n, 1.0f);
  ThreadPool pool(threads);
  Bandwidth best;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<float> partial(static_cast<std::size_t>(threads) * 16, 0.0f);
    const double c0 = process_cpu_seconds();
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
    const double cpu = (process_cpu_seconds() - c0) / threads;
    const auto bytes = static_cast<double>(n * sizeof(float));
    best.wall = std::max(best.wall, bytes / sec);
    if (cpu > 0.0) best.cpu = std::max(best.cpu, bytes / cpu);
  }
  measured[threads] = best;
  return best;
}

Tensor random_embeds(std::int64_t rows, std::int64_t d) {
  Tensor t = Tensor::empty(Shape{rows, d}, DType::F32);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

const char* variant_label(std::int64_t v) {
  return v == 0 ? "turbo" : "nano";
}

void BM_T3Decode(benchmark::State& state) {
  const auto dtype = static_cast<DType>(state.range(2));
  const auto model = model_for(static_cast<int>(state.range(0)), dtype);
  const int threads = thread_count(state.range(1));
  ThreadPool pool(threads);
  const ExecContext ctx{threads > 1 ? &pool : nullptr};
  const std::int64_t d = model->config().hidden_size;
  T3State st = model->new_state(kContext + 1);
  model->forward(ctx, random_embeds(kContext, d), st);
  const Tensor step = random_embeds(1, d);
  model->forward(ctx, step, st);  // warm the per-thread scratch
  for (auto& c : st.caches) c.truncate(kContext);
  double cpu = 0.0;
  for (auto _ : state) {
    const double c0 = process_cpu_seconds();
    model->forward(ctx, step, st);
    benchmark::DoNotOptimize(st.logits.raw_data());
    cpu += process_cpu_seconds() - c0;
    state.PauseTiming();
    for (auto& c : st.caches) c.truncate(kContext);
    state.ResumeTiming();
  }
  state.counters["proc_cpu_ms"] = cpu * 1e3 / static_cast<double>(state.iterations());
  const double bytes = static_cast<double>(model->decode_weight_bytes());
  const Bandwidth bw = read_bandwidth(threads);
  state.counters["weights_MB"] = bytes / 1e6;
  state.counters["read_GB/s"] = bw.wall / 1e9;
  state.counters["floor_ms"] = bytes / bw.wall * 1e3;
  // The same on CPU time: compare with proc_cpu_ms / threads.
  state.counters["cpu_read_GB/s"] = bw.cpu / 1e9;
  state.counters["cpu_floor_ms"] = bytes / bw.cpu * 1e3;
  state.SetLabel(std::string(variant_label(state.range(0))) + " " + std::string(dtype_name(dtype)) +
                 " threads=" + std::to_string(threads));
}

void BM_T3Prefill(benchmark::State& state) {
  const auto dtype = static_cast<DType>(state.range(2));
  const auto model = model_for(static_cast<int>(state.range(0)), dtype);
  const int threads = thread_count(state.range(1));
  ThreadPool pool(threads);
  const ExecContext ctx{threads > 1 ? &pool : nullptr};
  const Tensor embeds = random_embeds(kContext, model->config().hidden_size);
  T3State st = model->new_state(kContext);
  for (auto _ : state) {
    model->reset_state(st, kContext);
    model->forward(ctx, embeds, st);
    benchmark::DoNotOptimize(st.logits.raw_data());
  }
  state.counters["tokens/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kContext), benchmark::Counter::kIsRate);
  state.SetLabel(std::string(variant_label(state.range(0))) + " " + std::string(dtype_name(dtype)) +
                 " threads=" + std::to_string(threads));
}

void args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"variant", "threads", "dtype"});
  for (const int v : {0, 1}) {
    for (const int t : {1, 0}) b->Args({v, t, static_cast<int>(DType::F32)});
  }
  for (const int v : {0, 1}) b->Args({v, 0, static_cast<int>(DType::F16)});
  for (const DType dt : {DType::BF16, DType::Q8_0, DType::Q4_0}) {
    for (const int v : {0, 1}) {
      for (const int t : {1, 2}) b->Args({v, t, static_cast<int>(dt)});
    }
  }
}

BENCHMARK(BM_T3Decode)->Apply(args)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_T3Prefill)->Apply(args)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chatterd
