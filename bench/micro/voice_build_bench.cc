// build_voice end to end (DSP + VoiceEncoder + CAMPPlus + S3Tokenizer) on a 10 s 24 kHz clip with
// synthetic weights of the real dimensions. range(0): threads; range(1): 1 = Turbo recipe
// (loudness, 15 s / 375-token prompt), 0 = English recipe (6 s / 150-token prompt).
// Needs chatterd_pipeline linked into chatterd_micro_bench.
#include <benchmark/benchmark.h>

#include <cmath>
#include <memory>

#include "core/thread_pool.h"
#include "pipeline/voice_builder.h"

namespace chatterd {
namespace {

// A voiced-speech-like 10 s signal: harmonics of a gliding 120..220 Hz pitch, syllable envelope.
AudioData synthetic_clip(double seconds) {
  AudioData a{24000, 1, {}};
  const auto n = static_cast<std::size_t>(seconds * 24000);
  a.samples.resize(n);
  double phase = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / 24000.0;
    phase += 2.0 * M_PI * (170.0 + 50.0 * std::sin(2.0 * M_PI * 0.3 * t)) / 24000.0;
    double s = 0.0;
    for (int h = 1; h <= 8; ++h) s += std::sin(h * phase) / h;
    a.samples[i] = static_cast<float>(0.1 * s * (0.55 + 0.45 * std::sin(2.0 * M_PI * 3.0 * t)));
  }
  return a;
}

void BM_BuildVoice10s(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const Variant variant = state.range(1) == 1 ? Variant::Turbo : Variant::English;
  static const VoiceModels turbo = VoiceModels::synthetic(Variant::Turbo);
  static const VoiceModels english = VoiceModels::synthetic(Variant::English);
  const VoiceModels& models = variant == Variant::Turbo ? turbo : english;
  const AudioData clip = synthetic_clip(10.0);
  ThreadPool pool(threads);
  ExecContext ctx;
  ctx.pool = threads > 1 ? &pool : nullptr;
  for (auto _ : state) {
    Voice v = build_voice(ctx, models, clip, "bench");
    benchmark::DoNotOptimize(v.speaker_emb.raw_data());
  }
  state.counters["clip_s"] = 10.0;
}
BENCHMARK(BM_BuildVoice10s)
    ->Args({1, 1})
    ->Args({2, 1})
    ->Args({1, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace chatterd
