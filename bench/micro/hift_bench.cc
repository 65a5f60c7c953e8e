// HiFT vocoder at the real Turbo dimensions (synthetic weights): mel -> wav for F mel frames
// (50 frames = 1 s of 24 kHz audio). Counter "rtf" = seconds of compute per second of audio.
// range(0): mel frames, range(1): threads, range(2): 1 = bf16 decoder weights (Hift::pack_bf16).
#include <benchmark/benchmark.h>

#include <memory>
#include <thread>

#include "core/rng.h"
#include "core/thread_pool.h"
#include "models/hift/hift.h"
#include "models/s3gen/s3gen_config.h"
#include "models/synthetic_weights.h"

namespace chatterd::hift {
namespace {

struct Model {
  std::shared_ptr<WeightStore> store;
  std::unique_ptr<Hift> hift;
};

Model make_model(bool bf16) {
  const S3GenConfig c = S3GenConfig::defaults(Variant::Turbo);
  Model r;
  r.store = make_synthetic_weights(hift_tensor_specs(c), 42, "synthetic:turbo");
  r.hift = std::make_unique<Hift>(*r.store, c.hift);
  if (bf16 && !r.hift->pack_bf16(ExecContext{})) r.hift.reset();
  return r;
}

const Model& turbo_model(bool bf16) {
  static const Model f32 = make_model(false);
  if (!bf16) return f32;
  static const Model b = make_model(true);
  return b;
}

void BM_HiftInfer(benchmark::State& state) {
  const Model& m = turbo_model(state.range(2) == 1);
  if (!m.hift) return state.SkipWithError("no AVX512_BF16");
  const std::int64_t frames = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  auto pool = std::make_unique<ThreadPool>(threads);
  const ExecContext ctx{threads > 1 ? pool.get() : nullptr};
  Tensor mel = Tensor::empty({1, 80, frames}, DType::F32);
  Rng init(1);
  for (std::int64_t i = 0; i < mel.numel(); ++i) mel.data<float>()[i] = init.next_normal() - 5.0f;
  Rng rng(2);
  const HiftSourceNoise noise =
      HiftSourceNoise::draw(rng, m.hift->harmonics(), frames * m.hift->samples_per_frame());
  for (auto _ : state) {
    HiftOutput out = m.hift->infer(ctx, mel, noise);
    benchmark::DoNotOptimize(out.wav.raw_data());
  }
  const double audio_s = static_cast<double>(frames) / 50.0;
  state.counters["rtf"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * audio_s,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void thread_args(benchmark::internal::Benchmark* b) {
  const int all = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (std::int64_t bf16 : {0, 1}) {
    for (std::int64_t frames : {50, 250}) {
      b->Args({frames, 1, bf16});
      if (all > 1) b->Args({frames, all, bf16});
    }
  }
}
BENCHMARK(BM_HiftInfer)->Apply(thread_args)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace chatterd::hift
