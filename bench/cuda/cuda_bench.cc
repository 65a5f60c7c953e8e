// CUDA benchmarks (chatterd_cuda_bench; built with the CUDA backend, run on a GPU machine by
// scripts/cuda-device-check). Times come from CUDA events around a batch of launches, so the
// host's launch overhead is included exactly as a decode loop pays it.
//   - CudaLinear: one linear at T3 shapes, weight bytes/s against the device's DRAM peak.
//   - CudaAttentionDecode: one query row per stream over a context.
//   - CudaT3Decoder: the real T3CudaDecoder on synthetic:turbo / synthetic:nano (bf16), one decode
//     step at a ~400-token context after a 400-row prefill, op by op (no graph yet).
//   - CudaT3Step: a Turbo- or Nano-shaped GPT-2 decode step (all layers + the speech head, bf16
//     weights, f32 activations, a 400-token context per stream), op by op or replayed as one
//     CUDA graph; floor% = (weight + KV bytes) / DRAM peak / step time.
// Without a GPU every benchmark reports an error and exits cleanly.

#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "backends/cuda/graph.h"
#include "models/t3/t3_cuda_decoder.h"
#include "models/t3/t3_synthetic.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/convert.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/norm.h"

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

// The GPT-2 decode step of Turbo (24 x 1024) or Nano (12 x 768) for `batch` streams.
struct Gpt2Stack {
  struct Layer {
    Tensor ln1_g, ln1_b, w_qkv, b_qkv, w_proj, b_proj, ln2_g, ln2_b, w_fc, b_fc, w_out, b_out;
  };
  std::vector<Layer> layers;
  Tensor lnf_g, lnf_b, head, head_b;
  std::vector<Tensor> keys, values;  // per layer x stream: [context, heads, 64] f16
  std::int64_t d = 0, heads = 0, context = 400;
  // Scratch kept across steps (fixed addresses for graph replay).
  Tensor x, h, qkv, attn, proj, mlp, logits;
  std::vector<Tensor> q_rows, attn_rows;

  double weight_bytes() const {
    double b = static_cast<double>(head.nbytes());
    for (const auto& l : layers) {
      b += static_cast<double>(l.w_qkv.nbytes() + l.w_proj.nbytes() + l.w_fc.nbytes() +
                               l.w_out.nbytes());
    }
    return b;
  }
  double kv_bytes() const {
    double b = 0;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      b += static_cast<double>(keys[i].nbytes() + values[i].nbytes());
    }
    return b;
  }
};

Gpt2Stack make_stack(int n_layers, std::int64_t d, std::int64_t batch) {
  Gpt2Stack s;
  s.d = d;
  s.heads = d / 64;
  std::uint32_t seed = 10;
  auto w = [&](std::int64_t out, std::int64_t in) {
    return device_random({out, in}, DType::BF16, seed++, 0.03f);
  };
  auto vec = [&](std::int64_t n, float scale) {
    return device_random({n}, DType::F32, seed++, scale);
  };
  for (int i = 0; i < n_layers; ++i) {
    Gpt2Stack::Layer l;
    l.ln1_g = vec(d, 1.0f), l.ln1_b = vec(d, 0.1f);
    l.w_qkv = w(3 * d, d), l.b_qkv = vec(3 * d, 0.1f);
    l.w_proj = w(d, d), l.b_proj = vec(d, 0.1f);
    l.ln2_g = vec(d, 1.0f), l.ln2_b = vec(d, 0.1f);
    l.w_fc = w(4 * d, d), l.b_fc = vec(4 * d, 0.1f);
    l.w_out = w(d, 4 * d), l.b_out = vec(d, 0.1f);
    s.layers.push_back(std::move(l));
    for (std::int64_t b = 0; b < batch; ++b) {
      s.keys.push_back(device_random({s.context, s.heads, 64}, DType::F16, seed++));
      s.values.push_back(device_random({s.context, s.heads, 64}, DType::F16, seed++));
    }
  }
  s.lnf_g = vec(d, 1.0f), s.lnf_b = vec(d, 0.1f);
  s.head = w(6563, d), s.head_b = vec(6563, 0.1f);
  s.x = device_random({batch, d}, DType::F32, seed++);
  return s;
}

// One decode step. Attention reads each stream's cache (the new token's K/V write is left out:
// it is 0.1% of the bytes). The residual stream x is not advanced, so replays are identical.
void gpt2_step(const ExecContext& ctx, Gpt2Stack& s, std::int64_t batch) {
  const std::int64_t d = s.d;
  ops::AttentionOptions o;
  o.causal = true;
  o.q_offset = s.context - 1;
  for (std::size_t li = 0; li < s.layers.size(); ++li) {
    const auto& l = s.layers[li];
    ops::layer_norm(ctx, s.x, &l.ln1_g, &l.ln1_b, s.h, 1e-5f);
    ops::linear(ctx, s.h, l.w_qkv, &l.b_qkv, s.qkv);
    for (std::int64_t b = 0; b < batch; ++b) {
      // q of stream b: the first d values of its qkv row, as [1, heads, 64].
      const Tensor q = s.qkv.narrow0(b, 1).reshape({3, s.heads, 64}).narrow0(0, 1);
      Tensor out = s.attn.defined() ? s.attn.narrow0(b, 1).reshape({1, s.heads, 64}) : Tensor{};
      const std::size_t cache = li * static_cast<std::size_t>(batch) + static_cast<std::size_t>(b);
      ops::attention(ctx, q, s.keys[cache], s.values[cache], o, out);
    }
    ops::linear(ctx, s.attn, l.w_proj, &l.b_proj, s.proj);
    ops::add(ctx, s.x, s.proj, s.h);  // h = x + attn (x kept: replays stay identical)
    ops::layer_norm(ctx, s.h, &l.ln2_g, &l.ln2_b, s.proj, 1e-5f);
    ops::linear(ctx, s.proj, l.w_fc, &l.b_fc, s.mlp);
    ops::gelu_tanh(ctx, s.mlp, s.mlp);
    ops::linear(ctx, s.mlp, l.w_out, &l.b_out, s.proj);
    ops::add(ctx, s.h, s.proj, s.h);
  }
  ops::layer_norm(ctx, s.h, &s.lnf_g, &s.lnf_b, s.proj, 1e-5f);
  ops::linear(ctx, s.proj, s.head, &s.head_b, s.logits);
  (void)d;
}

// args: layers (24 Turbo, 12 Nano), batch, graph (0/1)
void BM_CudaT3Step(benchmark::State& state) {
  if (!need_gpu(state)) return;
  Gpu& g = *gpu();
  const int n_layers = static_cast<int>(state.range(0));
  const std::int64_t d = n_layers == 24 ? 1024 : 768;
  const std::int64_t batch = state.range(1);
  const bool use_graph = state.range(2) != 0;
  Gpt2Stack s = make_stack(n_layers, d, batch);
  g.dc->ensure(s.attn, Shape{batch, d}, DType::F32);
  gpt2_step(g.ctx, s, batch);  // sizes every scratch tensor
  g.dc->synchronize();
  cuda::Graph graph;
  if (use_graph) g.dc->capture(graph, [&] { gpt2_step(g.ctx, s, batch); });
  time_on_device(state, 20, [&] {
    if (use_graph) {
      graph.launch(g.dc->stream());
    } else {
      gpt2_step(g.ctx, s, batch);
    }
  });
  const double bytes = s.weight_bytes() + s.kv_bytes();
  state.counters["step_GB/s"] =
      benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["floor_ms"] = bytes / g.peak_bandwidth * 1e3;
}
BENCHMARK(BM_CudaT3Step)
    ->ArgsProduct({{24, 12}, {1, 8, 64}, {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(30);

// args: variant (0 turbo, 1 nano)
void BM_CudaT3Decoder(benchmark::State& state) {
  if (!need_gpu(state)) return;
  Gpu& g = *gpu();
  const Variant variant = state.range(0) == 0 ? Variant::Turbo : Variant::Nano;
  const auto model = make_synthetic_t3(variant, 1, DType::BF16, DType::BF16);
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
  const double kv = 2.0 * static_cast<double>(model->config().num_layers * (prefill + 40) * d) * 2;
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
