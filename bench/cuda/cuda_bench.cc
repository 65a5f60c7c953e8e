// CUDA benchmarks (chatterd_cuda_bench; built with the CUDA backend, run on a GPU machine by
// scripts/cuda-device-check). Times come from CUDA events around a batch of launches, so the
// host's launch overhead is included exactly as a decode loop pays it.
//   - CudaLinear: one linear at T3 shapes, weight bytes/s against the device's DRAM peak.
//   - CudaAttentionDecode: one query row per stream over a context.
//   - CudaT3Decoder: T3CudaDecoder::forward on synthetic:turbo / synthetic:nano (bf16), one
//     decode step of one stream at a ~400-token context after a 400-row prefill, op by op.
//   - CudaT3Step: the batched step (T3CudaDecoder::step over KvSlots) for 1/8/64 streams at a
//     ~400-token context, op by op or replayed as one CUDA graph; floor_ms = (weights + KV read)
//     / DRAM peak.
// Without a GPU every benchmark reports an error and exits cleanly.

#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "backends/cuda/graph.h"
#include "backends/cuda/kv_slots.h"
#include "backends/cuda/nvml.h"
#include "models/t3/t3_cuda_decoder.h"
#include "models/t3/t3_synthetic.h"
#include "ops/attention.h"
#include "ops/convert.h"
#include "ops/linear.h"

namespace chatterd {
namespace {

struct Gpu {
  std::unique_ptr<cuda::DeviceContext> dc;
  ExecContext ctx;
  double peak_bandwidth = 0;
};

// One context for the whole run: creating cuBLASLt and the caches per benchmark would dominate.
Gpu* gpu() {
  static Gpu* g = [] {
    auto* made = new Gpu;
    if (cuda::device_count() > 0) {
      made->dc = std::make_unique<cuda::DeviceContext>(0);
      made->ctx.cuda = made->dc.get();
      const auto info = cuda::device_info(0);
      made->peak_bandwidth = info.memory_bandwidth;
      std::printf("device: %s\n", cuda::describe(info).c_str());
    }
    return made;
  }();
  return g;
}

Tensor random_host(const Shape& shape, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  Tensor t = Tensor::empty(shape, DType::F32);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

Tensor device_random(const Shape& shape, DType dtype, std::uint32_t seed, float scale = 1.0f) {
  Gpu& g = *gpu();
  Tensor host = random_host(shape, seed, scale);
  if (dtype != DType::F32) {
    Tensor converted;
    ops::convert(ExecContext{}, host, dtype, converted);
    host = converted;
  }
  return g.dc->to_device(host);
}

// Runs `body` `reps` times between two events per benchmark iteration.
template <class Body>
void time_on_device(benchmark::State& state, int reps, Body&& body) {
  Gpu& g = *gpu();
  cuda::Event start;
  cuda::Event end;
  body();  // warm: caches filled, cuBLASLt heuristics chosen
  g.dc->synchronize();
  for (auto _ : state) {
    start.record(g.dc->stream());
    for (int r = 0; r < reps; ++r) body();
    end.record(g.dc->stream());
    state.SetIterationTime(cuda::Event::elapsed_ms(start, end) / 1e3 / reps);
  }
}

// One synthetic model per variant for the whole run (building one takes seconds of CPU time
// while the GPU is held).
std::shared_ptr<const T3Model> synthetic(Variant variant) {
  static std::map<Variant, std::shared_ptr<const T3Model>> models;
  auto& m = models[variant];
  if (m == nullptr) m = make_synthetic_t3(variant, 1, DType::BF16, DType::BF16);
  return m;
}

bool need_gpu(benchmark::State& state) {
  if (gpu()->dc != nullptr) return true;
  state.SkipWithError(("no CUDA device: " + cuda::no_device_reason()).c_str());
  return false;
}

// args: out features, in features, rows, weight dtype
void BM_CudaLinear(benchmark::State& state) {
  if (!need_gpu(state)) return;
  Gpu& g = *gpu();
  const std::int64_t n = state.range(0);
  const std::int64_t k = state.range(1);
  const std::int64_t m = state.range(2);
  const auto dtype = static_cast<DType>(state.range(3));
  const Tensor w = device_random({n, k}, dtype, 1, 0.05f);
  const Tensor x = device_random({m, k}, DType::F32, 2);
  Tensor out;
  time_on_device(state, 50, [&] { ops::linear(g.ctx, x, w, nullptr, out); });
  const double bytes = static_cast<double>(w.nbytes());
  state.counters["weight_GB/s"] =
      benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["TFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(m * n * k) / 1e12,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

void LinearArgs(benchmark::internal::Benchmark* b) {
  // Turbo's c_attn, c_fc and mlp c_proj; the speech head.
  for (const auto& [n, k] :
       std::vector<std::pair<int, int>>{{3072, 1024}, {4096, 1024}, {1024, 4096}, {6563, 1024}}) {
    for (const int m : {1, 8, 64, 512}) b->Args({n, k, m, static_cast<int>(DType::BF16)});
  }
  b->Args({4096, 1024, 1, static_cast<int>(DType::F32)});
  b->Args({4096, 1024, 1, static_cast<int>(DType::F16)});
}
BENCHMARK(BM_CudaLinear)->Apply(LinearArgs)->UseManualTime()->Unit(benchmark::kMicrosecond);

// args: keys, heads, kv dtype
void BM_CudaAttentionDecode(benchmark::State& state) {
  if (!need_gpu(state)) return;
  Gpu& g = *gpu();
  const std::int64_t tk = state.range(0);
  const std::int64_t h = state.range(1);
  const auto kv = static_cast<DType>(state.range(2));
  const Tensor q = device_random({1, h, 64}, DType::F32, 3);
  const Tensor k = device_random({tk, h, 64}, kv, 4);
  const Tensor v = device_random({tk, h, 64}, kv, 5);
  ops::AttentionOptions o;
  o.causal = true;
  Tensor out;
  time_on_device(state, 50, [&] { ops::attention(g.ctx, q, k, v, o, out); });
  state.counters["kv_GB/s"] = benchmark::Counter(static_cast<double>(k.nbytes() + v.nbytes()),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CudaAttentionDecode)
    ->Args({400, 16, static_cast<int>(DType::F16)})
    ->Args({2000, 16, static_cast<int>(DType::F16)})
    ->Args({400, 16, static_cast<int>(DType::F32)})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// args: variant (0 turbo, 1 nano), batch, graph (0/1)
void BM_CudaT3Step(benchmark::State& state) {
  if (!need_gpu(state)) return;
  Gpu& g = *gpu();
  const Variant variant = state.range(0) == 0 ? Variant::Turbo : Variant::Nano;
  const std::int64_t batch = state.range(1);
  const bool use_graph = state.range(2) != 0;
  const auto model = synthetic(variant);
  const T3Config& cfg = model->config();
  const T3CudaDecoder decoder(g.ctx, *model);
  const std::int64_t context = 400;
  const int reps = 20;
  const std::int64_t steps = static_cast<std::int64_t>(state.max_iterations) * reps + reps + 8;
  cuda::KvSlots slots(*g.dc, cfg.num_layers, batch, context + steps, cfg.num_heads, cfg.head_dim);
  for (std::int64_t l = 0; l < cfg.num_layers; ++l) {
    for (std::int64_t b = 0; b < batch; ++b) {
      Tensor k = slots.keys(l, b);
      Tensor v = slots.values(l, b);
      g.dc->fill_zero(k);
      g.dc->fill_zero(v);
    }
  }
  for (std::int64_t b = 0; b < batch; ++b) slots.set_length(b, context);
  Tensor ids = g.dc->to_device(Tensor::zeros(Shape{batch}, DType::I32));
  T3CudaDecoder::StepScratch scratch;
  decoder.step(g.ctx, slots, batch, ids, scratch);  // sizes the scratch
  slots.note_advanced(batch);
  cuda::Graph graph;
  if (use_graph) g.dc->capture(graph, [&] { decoder.step(g.ctx, slots, batch, ids, scratch); });
  time_on_device(state, reps, [&] {
    if (use_graph) {
      slots.check_room(batch);
      graph.launch(g.dc->stream());
    } else {
      decoder.step(g.ctx, slots, batch, ids, scratch);
    }
    slots.note_advanced(batch);
  });
  double bytes = static_cast<double>(model->speech_head().weight_bytes());
  for (const auto& b : model->gpt2_blocks()) bytes += static_cast<double>(b.weight_bytes());
  const double kv = 2.0 * static_cast<double>(cfg.num_layers * cfg.hidden_size) * 2.0 *
                    static_cast<double>(batch * (context + steps / 2));
  state.counters["floor_ms"] = (bytes + kv) / g.peak_bandwidth * 1e3;
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CudaT3Step)
    ->ArgsProduct({{0, 1}, {1, 8, 64}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(10);

// args: variant (0 turbo, 1 nano)
void BM_CudaT3Decoder(benchmark::State& state) {
  if (!need_gpu(state)) return;
  Gpu& g = *gpu();
  const Variant variant = state.range(0) == 0 ? Variant::Turbo : Variant::Nano;
  const auto model = synthetic(variant);
  const T3CudaDecoder decoder(g.ctx, *model);
  const std::int64_t d = model->config().hidden_size;
  const std::int64_t prefill = 400;
  const int reps = 20;
  const std::int64_t steps = static_cast<std::int64_t>(state.max_iterations) * reps + reps + 8;
  T3CudaDecoder::State s = decoder.new_state(g.ctx, prefill + steps);
  decoder.forward(g.ctx, device_random({prefill, d}, DType::F32, 30), s);
  const Tensor row = device_random({1, d}, DType::F32, 31);
  time_on_device(state, reps, [&] { decoder.forward(g.ctx, row, s); });
  double bytes = 0;
  for (const auto& b : model->gpt2_blocks()) bytes += static_cast<double>(b.weight_bytes());
  bytes += static_cast<double>(model->speech_head().weight_bytes());
  // KV read at the middle of the timed steps (the context grows by one per step).
  const double kv = 2.0 * static_cast<double>(model->config().num_layers * d) * 2.0 *
                    static_cast<double>(prefill + steps / 2);
  state.counters["floor_ms"] = (bytes + kv) / g.peak_bandwidth * 1e3;
  state.counters["context"] = static_cast<double>(s.length());
}
BENCHMARK(BM_CudaT3Decoder)
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(10);

}  // namespace
}  // namespace chatterd
