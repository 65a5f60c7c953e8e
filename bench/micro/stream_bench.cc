// Token-level streaming at synthetic:turbo / synthetic:nano dimensions (random weights, real
// sizes, 1 thread so that the CPU column is the whole cost).
//
// BM_StreamSynthesis/<variant>/<streamed>: ChatterboxEngine::synthesize of the design's short text
// "Hi, this is Sarah from customer service. How can I help you today?" (130 forced tokens + 3
// silence, 5.3 s of audio), chunk_tokens 50, adaptive first chunk. Counters: time to first chunk
// (wall and process CPU), total, RTF, flow mel frames processed per frame emitted, first chunk.
//
// BM_StreamFidelity/P/C/O/R: the streaming vocoder alone on 130 fixed random tokens + 3 silence
// with the synthetic voice (250 prompt tokens): streamed (first chunk 16, then 50) vs one call
// with the whole prompt and the same seeds. Counters: flow-mel SNR, the same on the flow's change
// to the shared initial noise (change_snr_db), waveform SNR (phase-sensitive: SineGen integrates
// f0; meaningless when the random-weight audio clips, see `clipped`), waste. P = -1: whole prompt.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>
#include <vector>

#include "core/rng.h"
#include "pipeline/chatterbox_engine.h"
#include "pipeline/stream_hift.h"
#include "pipeline/stream_vocoder.h"

namespace chatterd {
namespace {

constexpr const char* kText = "Hi, this is Sarah from customer service. How can I help you today?";

double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

ChatterboxEngine& engine(Variant v) {
  static std::unique_ptr<ChatterboxEngine> turbo, nano;
  auto& e = v == Variant::Turbo ? turbo : nano;
  if (!e) e = ChatterboxEngine::synthetic(v, 1, 0);
  return *e;
}

void BM_StreamSynthesis(benchmark::State& state) {
  const Variant variant = state.range(0) == 0 ? Variant::Turbo : Variant::Nano;
  const bool streamed = state.range(1) != 0;
  ChatterboxEngine& e = engine(variant);
  SynthesisRequest r;
  r.text = kText;
  r.options.seed = 42;
  r.options.chunk_tokens = 50;
  r.options.streaming = streamed;
  ChatterboxStageTimes times;
  SynthesisResult res;
  double cpu_first = 0.0, cpu_total = 0.0;
  for (auto _ : state) {
    const double cpu0 = process_cpu_ms();
    bool first = true;
    res = e.synthesize(
        r,
        [&](const AudioChunk&) {
          if (first) cpu_first = process_cpu_ms() - cpu0;
          first = false;
          return true;
        },
        times);
    cpu_total = process_cpu_ms() - cpu0;
  }
  state.counters["ttfc_ms"] = res.stats.time_to_first_audio_ms;
  state.counters["ttfc_cpu_ms"] = cpu_first;
  state.counters["total_ms"] = res.stats.total_ms;
  state.counters["total_cpu_ms"] = cpu_total;
  state.counters["audio_s"] = res.stats.audio_seconds;
  state.counters["rtf"] = res.stats.real_time_factor;
  state.counters["rtf_cpu"] = cpu_total / 1000.0 / res.stats.audio_seconds;
  state.counters["chunks"] = static_cast<double>(res.stats.chunks);
  state.counters["first_chunk"] = static_cast<double>(times.first_chunk_tokens);
  state.counters["flow_per_emitted"] = times.flow_frames_per_emitted();
  state.counters["hift_per_emitted"] =
      static_cast<double>(times.hift_frames) / static_cast<double>(times.emitted_frames);
  state.counters["t3_ms"] = times.t3_prefill_ms + times.t3_decode_ms;
  state.counters["flow_ms"] = times.flow_encoder_ms + times.flow_solver_ms;
  state.counters["hift_ms"] = times.hift_ms;
}

struct VocoderRun {
  std::vector<float> audio;
  std::vector<float> mel;
  StreamVocoderStats stats;
};

VocoderRun vocode(const StreamVocoderOptions& o, bool stream) {
  ChatterboxEngine& e = engine(Variant::Turbo);
  const ChatterboxVoice v = e.voice("");
  std::vector<std::int64_t> tokens;
  Rng rng(3);
  for (int i = 0; i < 130; ++i) tokens.push_back(static_cast<std::int64_t>(rng.next_u64() % 6561));
  for (int i = 0; i < 3; ++i) tokens.push_back(4299);
  VocoderRun r;
  const ExecContext ctx;
  StreamVocoder voc(e.flow(), e.vocoder(), v.gen, o, 1234, 5678);
  voc.set_mel_tap([&](const Tensor& m) {
    const std::int64_t n = m.dim(2), bins = m.dim(1);
    for (std::int64_t f = 0; f < n; ++f)
      for (std::int64_t b = 0; b < bins; ++b) r.mel.push_back(m.data<float>()[b * n + f]);
  });
  std::int64_t next = 16;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    voc.push_tokens(std::span<const std::int64_t>(&tokens[i], 1));
    if (stream && i + 3 < tokens.size() && voc.ready(next)) {
      voc.vocode(ctx, next, r.audio);
      next = 50;
    }
  }
  voc.finish(ctx, r.audio);
  r.stats = voc.stats();
  return r;
}

double snr_db(const std::vector<float>& ref, const std::vector<float>& x) {
  double sig = 0.0, err = 0.0;
  for (std::size_t i = 0; i < std::min(ref.size(), x.size()); ++i) {
    sig += static_cast<double>(ref[i]) * ref[i];
    const double d = static_cast<double>(ref[i]) - x[i];
    err += d * d;
  }
  return 10.0 * std::log10(sig / std::max(err, 1e-30));
}

const VocoderRun& one_call() {
  static const VocoderRun r = [] {
    StreamVocoderOptions o;
    o.prompt_tokens = StreamVocoderOptions::kWholePrompt;
    return vocode(o, false);
  }();
  return r;
}

void BM_StreamFidelity(benchmark::State& state) {
  StreamVocoderOptions o;
  o.prompt_tokens = state.range(0);
  o.context_tokens = state.range(1);
  o.overlap_frames = state.range(2);
  o.lookahead_tokens = state.range(3);
  const VocoderRun& ref = one_call();
  VocoderRun r;
  for (auto _ : state) r = vocode(o, true);
  state.counters["mel_snr_db"] = snr_db(ref.mel, r.mel);
  // The same on the flow's change to the shared initial noise (mel - z): the mel of random
  // weights is mostly the noise itself.
  {
    std::vector<float> a(ref.mel.size()), b(r.mel.size());
    const std::int64_t bins = engine(Variant::Turbo).flow().config().mel_bins;
    for (std::size_t f = 0; f * static_cast<std::size_t>(bins) < ref.mel.size(); ++f) {
      Rng z(position_seed(1234, static_cast<std::int64_t>(f)));
      for (std::int64_t k = 0; k < bins; ++k) {
        const std::size_t i = f * static_cast<std::size_t>(bins) + static_cast<std::size_t>(k);
        const float n = z.next_normal();
        a[i] = ref.mel[i] - n;
        if (i < b.size()) b[i] = r.mel[i] - n;
      }
    }
    state.counters["change_snr_db"] = snr_db(a, b);
  }
  state.counters["wav_snr_db"] = snr_db(ref.audio, r.audio);
  state.counters["flow_per_emitted"] =
      static_cast<double>(r.stats.flow_frames) / static_cast<double>(r.stats.emitted_frames);
  state.counters["one_call_flow_per_emitted"] =
      static_cast<double>(ref.stats.flow_frames) / static_cast<double>(ref.stats.emitted_frames);
  state.counters["windows"] = static_cast<double>(r.stats.flow_calls);
  // Signal sanity (random weights can saturate): mel mean/std, share of clipped samples.
  double m = 0.0, m2 = 0.0;
  for (const float v : ref.mel) {
    m += v;
    m2 += static_cast<double>(v) * v;
  }
  m /= static_cast<double>(ref.mel.size());
  state.counters["mel_mean"] = m;
  state.counters["mel_std"] =
      std::sqrt(std::max(0.0, m2 / static_cast<double>(ref.mel.size()) - m * m));
  std::size_t clipped = 0;
  double rms = 0.0;
  for (const float v : ref.audio) {
    clipped += std::fabs(v) >= 0.989f ? 1 : 0;
    rms += static_cast<double>(v) * v;
  }
  state.counters["clipped"] = static_cast<double>(clipped) / static_cast<double>(ref.audio.size());
  state.counters["rms"] = std::sqrt(rms / static_cast<double>(ref.audio.size()));
  state.counters["flow_ms"] = r.stats.flow_encoder_ms + r.stats.flow_solver_ms;
  state.counters["one_call_flow_ms"] = ref.stats.flow_encoder_ms + ref.stats.flow_solver_ms;
}

BENCHMARK(BM_StreamSynthesis)
    ->ArgsProduct({{0, 1}, {1, 0}})
    ->ArgNames({"nano", "streamed"})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_StreamFidelity)
    ->Args({-1, 12, 4, 3})
    ->Args({100, 12, 4, 3})
    ->Args({50, 12, 4, 3})
    ->Args({25, 12, 4, 3})
    ->Args({0, 12, 4, 3})
    ->Args({50, 0, 0, 3})
    ->Args({50, 25, 4, 3})
    ->Args({50, 12, 0, 3})
    ->Args({50, 12, 4, 6})
    ->ArgNames({"P", "C", "O", "R"})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace chatterd
