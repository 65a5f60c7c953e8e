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

#include "bench_util.h"
#include "core/thread_pool.h"
#include "models/t3/t3_model.h"
#include "models/t3/t3_synthetic.h"

namespace chatterd {
namespace {

constexpr std::int64_t kDecodeContext = 400;

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
  const int threads = bench::thread_count(state.range(1));
  ThreadPool pool(threads);
  const ExecContext ctx{threads > 1 ? &pool : nullptr};
  const std::int64_t d = model->config().hidden_size;
  T3State st = model->new_state(kDecodeContext + 1);
  model->forward(ctx, random_embeds(kDecodeContext, d), st);
  const Tensor step = random_embeds(1, d);
  model->forward(ctx, step, st);  // warm the per-thread scratch
  for (auto& c : st.caches) c.truncate(kDecodeContext);
  double cpu = 0.0;
  for (auto _ : state) {
    const double c0 = bench::process_cpu_seconds();
    model->forward(ctx, step, st);
    benchmark::DoNotOptimize(st.logits.raw_data());
    cpu += bench::process_cpu_seconds() - c0;
    state.PauseTiming();
    for (auto& c : st.caches) c.truncate(kDecodeContext);
    state.ResumeTiming();
  }
  state.counters["proc_cpu_ms"] = cpu * 1e3 / static_cast<double>(state.iterations());
  const double bytes = static_cast<double>(model->decode_weight_bytes());
  const bench::Bandwidth bw = bench::read_bandwidth(threads);
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
  const int threads = bench::thread_count(state.range(1));
  ThreadPool pool(threads);
  const ExecContext ctx{threads > 1 ? &pool : nullptr};
  const Tensor embeds = random_embeds(kDecodeContext, model->config().hidden_size);
  T3State st = model->new_state(kDecodeContext);
  for (auto _ : state) {
    model->reset_state(st, kDecodeContext);
    model->forward(ctx, embeds, st);
    benchmark::DoNotOptimize(st.logits.raw_data());
  }
  state.counters["tokens/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kDecodeContext), benchmark::Counter::kIsRate);
  state.SetLabel(std::string(variant_label(state.range(0))) + " " + std::string(dtype_name(dtype)) +
                 " threads=" + std::to_string(threads));
}

void decode_args(benchmark::internal::Benchmark* b) {
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

BENCHMARK(BM_T3Decode)->Apply(decode_args)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_T3Prefill)->Apply(decode_args)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chatterd
