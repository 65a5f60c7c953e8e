// Response encoding (io/audio_encoder.h): 10 s of 24 kHz voice-like audio to MP3, Ogg Opus and
// FLAC, whole, single-threaded. It runs on the engine worker after (or, streamed, between) the
// synthesis chunks, so x_realtime says how much of a worker one stream's encoding takes; kbps is
// the size of the result.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench_util.h"
#include "io/audio_encoder.h"

namespace chatterd {
namespace {

constexpr int kEncodeRate = 24000;

// range(0): AudioCodec.
void BM_EncodeResponse(benchmark::State& state) {
  const auto codec = static_cast<AudioCodec>(state.range(0));
  const std::vector<float>& x = bench::voice_like_10s_24k();
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string out = encode_audio(codec, kEncodeRate, x);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  const double audio_s = static_cast<double>(x.size()) / kEncodeRate;
  state.counters["x_realtime"] = benchmark::Counter(
      audio_s * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["kbps"] = static_cast<double>(bytes) * 8.0 / audio_s / 1000.0;
  state.SetLabel(std::string(codec_name(codec)));
}
BENCHMARK(BM_EncodeResponse)
    ->Arg(static_cast<int>(AudioCodec::Mp3))
    ->Arg(static_cast<int>(AudioCodec::Opus))
    ->Arg(static_cast<int>(AudioCodec::Flac))
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chatterd
