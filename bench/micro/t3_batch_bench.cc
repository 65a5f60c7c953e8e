// Continuous batching of T3 (GPT-2 backbone, synthetic weights of the real dimensions): one
// T3Model::forward_batch step for B streams at a ~400-token context each, vs B separate
// forward() steps. The batched step reads every weight once for all rows, so while the step is
// weight-bandwidth bound its time barely grows with B and tokens/s grows ~B-fold.
// range(0): variant (0 = turbo, 1 = nano); range(1): B; range(2): 1 = batched, 0 = one by one.

#include <benchmark/benchmark.h>

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

constexpr std::int64_t kBatchContext = 400;

std::shared_ptr<const T3Model> batch_model(int variant) {
  static std::map<int, std::shared_ptr<const T3Model>> cache;
  auto& m = cache[variant];
  if (!m) m = make_synthetic_t3(variant == 0 ? Variant::Turbo : Variant::Nano, 1, DType::F32);
  return m;
}

Tensor random_rows(std::int64_t rows, std::int64_t d, unsigned seed) {
  Tensor t = Tensor::empty(Shape{rows, d}, DType::F32);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

void BM_T3BatchStep(benchmark::State& state) {
  const auto model = batch_model(static_cast<int>(state.range(0)));
  const std::int64_t batch = state.range(1);
  const bool batched = state.range(2) == 1;
  const int threads = ThreadPool::hardware_threads();
  ThreadPool pool(threads);
  const ExecContext ctx{threads > 1 ? &pool : nullptr};
  const std::int64_t d = model->config().hidden_size;
  std::vector<T3State> states;
  std::vector<T3State*> ptrs;
  for (std::int64_t b = 0; b < batch; ++b) {
    states.push_back(model->new_state(kBatchContext + 1));
    // Slightly different lengths, as real streams have.
    model->forward(ctx, random_rows(kBatchContext - b, d, static_cast<unsigned>(b)), states.back());
  }
  for (auto& st : states) ptrs.push_back(&st);
  const Tensor rows = random_rows(batch, d, 99);
  T3BatchScratch scratch;
  for (auto _ : state) {
    if (batched) {
      model->forward_batch(ctx, rows, ptrs, scratch);
    } else {
      for (std::int64_t b = 0; b < batch; ++b) {
        model->forward(ctx, rows.narrow0(b, 1), states[static_cast<std::size_t>(b)]);
      }
    }
    state.PauseTiming();
    for (std::int64_t b = 0; b < batch; ++b) {
      for (auto& c : states[static_cast<std::size_t>(b)].caches) c.truncate(kBatchContext - b);
    }
    state.ResumeTiming();
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(state.iterations() * batch),
                                                  benchmark::Counter::kIsRate);
  state.SetLabel(std::string(state.range(0) == 0 ? "turbo" : "nano") +
                 " B=" + std::to_string(batch) + (batched ? " batched" : " one-by-one") +
                 " threads=" + std::to_string(threads));
}

void batch_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"variant", "B", "batched"});
  for (const int v : {1, 0}) {
    for (const int n : {1, 2, 4, 8}) {
      b->Args({v, n, 1});
      if (n > 1) b->Args({v, n, 0});
    }
  }
}

BENCHMARK(BM_T3BatchStep)->Apply(batch_args)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chatterd
