// Linear decode (M = 1) per weight dtype and ISA, reported as weight bytes/s so the figure can be
// compared with memory bandwidth; and a prefill-sized sgemm.
//   build/default/bench/chatterd_micro_bench --benchmark_filter=Linear

#include <benchmark/benchmark.h>

#include <random>

#include "bench_util.h"
#include "chatterd/core/tensor.h"
#include "core/thread_pool.h"
#include "ops/convert.h"
#include "ops/linear.h"
#include "ops/linear_q8.h"
#include "ops/matmul.h"

namespace chatterd {
namespace {

Tensor weight_as(const Tensor& w, DType dtype) {
  Tensor out;
  if (dtype == DType::Q8_0) {
    ops::quantize_q8_0(ExecContext{}, w, out);
  } else {
    ops::convert(ExecContext{}, w, dtype, out);
  }
  return out;
}

// args: out features, in features, dtype, isa, threads, rows, path (ops::LinearPath)
void BM_Linear(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const std::int64_t k = state.range(1);
  const auto dtype = static_cast<DType>(state.range(2));
  const auto isa = static_cast<cpu::CpuIsa>(state.range(3));
  const int threads = static_cast<int>(state.range(4));
  const std::int64_t m = state.range(5);
  const auto path = static_cast<ops::LinearPath>(state.range(6));
  if (static_cast<int>(isa) > static_cast<int>(cpu::detect_isa())) {
    state.SkipWithError("ISA not supported here");
    return;
  }
  ThreadPool pool(threads);
  ExecContext ctx;
  ctx.isa = isa;
  ctx.pool = threads > 1 ? &pool : nullptr;
  const Tensor w = weight_as(bench::random_f32(Shape{n, k}, 1), dtype);
  const Tensor x = bench::random_f32(Shape{m, k}, 2);
  Tensor out;
  for (auto _ : state) {
    ops::linear(ctx, x, w, nullptr, out, ops::WeightLayout::OutIn, path);
    benchmark::DoNotOptimize(out.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(w.nbytes()));
  state.counters["GFLOP/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * 2.0 * static_cast<double>(m * n * k) * 1e-9,
      benchmark::Counter::kIsRate);
  state.SetLabel(std::string(dtype_name(dtype)) + " " + std::string(cpu::isa_name(isa)));
}

void decode_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n", "k", "dtype", "isa", "threads", "m", "path"});
  const std::pair<int, int> sizes[] = {{1024, 1024}, {4096, 1024}, {1024, 4096}};
  for (const auto& [n, k] : sizes) {
    for (const DType d : {DType::F32, DType::F16, DType::BF16, DType::Q8_0}) {
      for (const auto isa : {cpu::CpuIsa::Scalar, cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512}) {
        b->Args({n, k, static_cast<int>(d), static_cast<int>(isa), 1, 1, 0});
      }
      b->Args({n, k, static_cast<int>(d), static_cast<int>(cpu::CpuIsa::Avx512), 2, 1, 0});
    }
  }
}
BENCHMARK(BM_Linear)->Apply(decode_args)->Name("Linear/decode")->UseRealTime();

void prefill_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n", "k", "dtype", "isa", "threads", "m", "path"});
  for (const DType d : {DType::F32, DType::F16, DType::Q8_0}) {
    for (const int threads : {1, 2}) {
      b->Args(
          {1024, 1024, static_cast<int>(d), static_cast<int>(cpu::default_isa()), threads, 256, 0});
    }
  }
}
BENCHMARK(BM_Linear)->Apply(prefill_args)->Name("Linear/prefill")->UseRealTime();

// A batched T3 decode step's projection (GPT-2 medium MLP, 4096 x 1024) at 4/8/16 streams: the
// tiled row kernels (path 1) against sgemm (path 2), side by side.
void batched_decode_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n", "k", "dtype", "isa", "threads", "m", "path"});
  for (const DType d : {DType::F32, DType::BF16, DType::Q8_0}) {
    for (const int m : {4, 8, 16}) {
      for (const auto path : {ops::LinearPath::RowKernels, ops::LinearPath::Gemm}) {
        b->Args({4096, 1024, static_cast<int>(d), static_cast<int>(cpu::default_isa()), 2, m,
                 static_cast<int>(path)});
      }
    }
  }
}
BENCHMARK(BM_Linear)->Apply(batched_decode_args)->Name("Linear/batched")->UseRealTime();

// Row-packed int8 / int4 (ops/linear_q8.h, the T3 decode step's matrices), reported as weight
// bytes/s. The weights (2-9 MB) stay in the last-level cache across iterations, so this is the
// kernels' compute rate, the ceiling above the DRAM-bound step.
// args: out features, in features, dtype (Q8_0 or Q4_0), isa, threads, rows, amx (0: the AVX-512
// paths only; rows > 16 then take the row kernels instead of the AMX prefill)
void BM_LinearRows(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const std::int64_t k = state.range(1);
  const auto dtype = static_cast<DType>(state.range(2));
  const auto isa = static_cast<cpu::CpuIsa>(state.range(3));
  const int threads = static_cast<int>(state.range(4));
  const std::int64_t m = state.range(5);
  ThreadPool pool(threads);
  ExecContext ctx;
  ctx.isa = isa;
  ctx.pool = threads > 1 ? &pool : nullptr;
  ctx.amx = state.range(6) != 0;
  if (static_cast<int>(isa) > static_cast<int>(cpu::detect_isa()) ||
      (dtype == DType::Q8_0 && !ops::q8_rows_available(ctx, k))) {
    state.SkipWithError("ISA not supported here");
    return;
  }
  const Tensor f = bench::random_f32(Shape{n, k}, 1);
  Tensor q;
  ops::PackedQuantWeight w;
  if (dtype == DType::Q4_0) {
    ops::quantize_q4_0(ctx, f, q);
    w = ops::pack_q4_rows(ctx, q);
  } else {
    ops::quantize_q8_0(ctx, f, q);
    w = ops::pack_q8_rows(ctx, q);
  }
  const Tensor x = bench::random_f32(Shape{m, k}, 2);
  Tensor out;
  for (auto _ : state) {
    ops::linear_quant_rows(ctx, x, w, nullptr, out);
    benchmark::DoNotOptimize(out.raw_data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(w.nbytes()));
  state.SetLabel(std::string(dtype_name(dtype)) + " " + std::string(cpu::isa_name(isa)));
}
BENCHMARK(BM_LinearRows)
    ->Apply([](benchmark::internal::Benchmark* b) {
      b->ArgNames({"n", "k", "dtype", "isa", "threads", "m", "amx"});
      for (const auto& [n, k] : {std::pair{4096, 1024}, std::pair{1024, 4096}}) {
        for (const DType d : {DType::Q8_0, DType::Q4_0}) {
          for (const auto isa : {cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512}) {
            if (d == DType::Q8_0 && isa != cpu::CpuIsa::Avx512) continue;
            b->Args({n, k, static_cast<int>(d), static_cast<int>(isa), 1, 1, 1});
          }
          // A short prefill (a sentence's text rows): AMX with dequantised tiles vs row kernels.
          for (const int m : {24, 48, 96}) {
            for (const int amx : {1, 0}) {
              b->Args(
                  {n, k, static_cast<int>(d), static_cast<int>(cpu::CpuIsa::Avx512), 2, m, amx});
            }
          }
        }
      }
    })
    ->Name("LinearRows")
    ->UseRealTime();

void BM_Sgemm(benchmark::State& state) {
  const std::int64_t m = state.range(0);
  const std::int64_t n = state.range(1);
  const std::int64_t k = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  ThreadPool pool(threads);
  ExecContext ctx;
  ctx.pool = threads > 1 ? &pool : nullptr;
  const Tensor a = bench::random_f32(Shape{m, k}, 1);
  const Tensor b = bench::random_f32(Shape{k, n}, 2);
  Tensor c;
  for (auto _ : state) {
    ops::matmul(ctx, a, b, c);
    benchmark::DoNotOptimize(c.raw_data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * 2.0 * static_cast<double>(m * n * k) * 1e-9,
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Sgemm)
    ->ArgNames({"m", "n", "k", "threads"})
    ->Args({256, 1024, 1024, 1})
    ->Args({256, 1024, 1024, 2})
    ->Args({512, 4096, 1024, 2})
    ->UseRealTime();

}  // namespace
}  // namespace chatterd
