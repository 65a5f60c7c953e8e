// Voice-cloning front-ends on a 10 s, 24 kHz synthetic voice-like clip (the longest reference the
// S3Gen path uses): loudness, both resamplers, trim, and the four mel front-ends, single-threaded,
// plus the whole chain with a 4-thread pool.
#include <benchmark/benchmark.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "audio/features.h"
#include "audio/loudness.h"
#include "audio/resample.h"
#include "audio/trim.h"
#include "bench_util.h"
#include "core/thread_pool.h"

namespace chatterd::audio {
namespace {

const std::vector<float>& clip24() {
  return bench::voice_like_10s_24k();
}

const std::vector<float>& clip16() {
  static const std::vector<float> x = resample_torchaudio(clip24(), 24000, 16000);
  return x;
}

void BM_Loudness(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(integrated_loudness(clip24(), 24000));
}
BENCHMARK(BM_Loudness)->Unit(benchmark::kMillisecond);

void BM_ResampleSoxrHq(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(resample_soxr(clip24(), 24000, 16000));
}
BENCHMARK(BM_ResampleSoxrHq)->Unit(benchmark::kMillisecond);

void BM_ResampleTorchaudio(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(resample_torchaudio(clip24(), 24000, 16000));
}
BENCHMARK(BM_ResampleTorchaudio)->Unit(benchmark::kMillisecond);

void BM_TrimSilence(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(trim_silence(clip16()));
}
BENCHMARK(BM_TrimSilence)->Unit(benchmark::kMillisecond);

void BM_VoiceEncoderMel(benchmark::State& state) {
  const ExecContext ctx;
  for (auto _ : state) benchmark::DoNotOptimize(ve_mel(ctx, clip16()));
}
BENCHMARK(BM_VoiceEncoderMel)->Unit(benchmark::kMillisecond);

void BM_KaldiFbank(benchmark::State& state) {
  const ExecContext ctx;
  for (auto _ : state) benchmark::DoNotOptimize(kaldi_fbank(ctx, clip16()));
}
BENCHMARK(BM_KaldiFbank)->Unit(benchmark::kMillisecond);

void BM_S3TokenizerLogMel(benchmark::State& state) {
  const ExecContext ctx;
  for (auto _ : state) benchmark::DoNotOptimize(s3tokenizer_log_mel(ctx, clip16()));
}
BENCHMARK(BM_S3TokenizerLogMel)->Unit(benchmark::kMillisecond);

void BM_S3GenMel(benchmark::State& state) {
  const ExecContext ctx;
  for (auto _ : state) benchmark::DoNotOptimize(s3gen_prompt_feat(ctx, clip24()));
}
BENCHMARK(BM_S3GenMel)->Unit(benchmark::kMillisecond);

// Everything prepare_conditionals does outside the networks, threads = state.range(0).
void BM_FullChain(benchmark::State& state) {
  ThreadPool pool(static_cast<int>(state.range(0)));
  ExecContext ctx;
  ctx.pool = state.range(0) > 1 ? &pool : nullptr;
  for (auto _ : state) {
    std::vector<float> wav = clip24();
    normalize_loudness(wav, 24000);
    const auto lib16 = resample_soxr(wav, 24000, 16000);
    const auto ta16 = resample_torchaudio(wav, 24000, 16000);
    const TrimRange r = trim_silence(lib16);
    benchmark::DoNotOptimize(ve_mel(
        ctx, std::span<const float>(lib16).subspan(static_cast<std::size_t>(r.start),
                                                   static_cast<std::size_t>(r.end - r.start))));
    benchmark::DoNotOptimize(kaldi_fbank(ctx, ta16));
    benchmark::DoNotOptimize(s3tokenizer_log_mel(ctx, lib16, 128, 1500));
    benchmark::DoNotOptimize(s3tokenizer_log_mel(ctx, ta16));
    benchmark::DoNotOptimize(s3gen_prompt_feat(ctx, wav));
  }
}
BENCHMARK(BM_FullChain)->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace chatterd::audio
