// The three voice-cloning networks at real dimensions on the features of a 10 s reference clip,
// synthetic weights (make_synthetic_weights from the tensor specs; BatchNorm variances made
// positive so every value stays finite). range(0): threads.
//   VoiceEncoder: mel (1001, 40) -> 12 partials of 160 frames, 3-layer LSTM 256.
//   CAMPPlus: fbank (998, 80) -> x-vector (1, 192).
//   S3Tokenizer: log-mel (128, 1000) -> 250 tokens (6 blocks of 1280).
#include <benchmark/benchmark.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "core/thread_pool.h"
#include "models/campplus/campplus.h"
#include "models/s3tokenizer/s3tokenizer.h"
#include "models/synthetic_weights.h"
#include "models/voice/voice_encoder.h"

namespace chatterd {
namespace {

Tensor wave_features(const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::F32);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    t.data<float>()[i] = 0.5f + 0.5f * std::sin(0.013f * static_cast<float>(i));
  }
  return t;
}

std::shared_ptr<WeightStore> synthetic(const std::vector<TensorSpec>& specs, const char* label) {
  const auto raw = make_synthetic_weights(specs, 1234, label);
  std::map<std::string, Tensor, std::less<>> tensors;
  for (const auto& info : raw->tensors()) {
    Tensor t = raw->get_any(info.name);
    if (info.name.ends_with("running_var")) {
      t = t.clone();
      for (std::int64_t i = 0; i < t.numel(); ++i) {
        t.data<float>()[i] = 1.0f + std::fabs(t.data<float>()[i]);
      }
    }
    tensors.emplace(info.name, t);
  }
  return WeightStore::from_tensors(std::move(tensors), label);
}

struct Pool {
  std::unique_ptr<ThreadPool> pool;
  ExecContext ctx;
  explicit Pool(std::int64_t n) {
    if (n > 1) pool = std::make_unique<ThreadPool>(static_cast<int>(n));
    ctx.pool = pool.get();
  }
};

void BM_VoiceEncoder10s(benchmark::State& state) {
  const VoiceEncoderConfig cfg;
  static const auto store = synthetic(voice_encoder_tensor_specs(cfg), "synthetic:ve");
  const VoiceEncoder ve(*store, cfg);
  const Tensor mel = wave_features({1001, cfg.num_mels});
  Pool p(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(ve.embed(p.ctx, mel).raw_data());
}
BENCHMARK(BM_VoiceEncoder10s)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

void BM_CampPlus10s(benchmark::State& state) {
  const CampPlusConfig cfg;
  static const auto store = synthetic(campplus_tensor_specs(cfg), "synthetic:campplus");
  const CampPlus net(*store, cfg);
  const Tensor fbank = wave_features({998, cfg.feat_dim});
  Pool p(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(net.embed(p.ctx, fbank).raw_data());
}
BENCHMARK(BM_CampPlus10s)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

void BM_S3Tokenizer10s(benchmark::State& state) {
  const S3TokenizerConfig cfg;
  static const auto store = synthetic(s3tokenizer_tensor_specs(cfg), "synthetic:s3tokenizer");
  const S3Tokenizer tok(*store, cfg);
  const Tensor mel = wave_features({cfg.n_mels, 1000});
  Pool p(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(tok.tokenize(p.ctx, mel).raw_data());
}
BENCHMARK(BM_S3Tokenizer10s)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chatterd
