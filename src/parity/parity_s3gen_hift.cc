// s3gen_hift golden: every HiFT stage of one S3Gen.inference call, with its SineGen draws.
// Two passes: end to end from the golden mel (what a user gets), and the decoder alone from the
// golden excitation (isolates the decoder from the f0 -> running-phase sensitivity).
#include <fmt/format.h>

#include <memory>
#include <string>

#include "core/check.h"
#include "core/thread_pool.h"
#include "models/hift/hift.h"
#include "models/hift/hift_load.h"
#include "ops/layout.h"
#include "parity/parity.h"
#include "weights/weight_store.h"

namespace chatterd::parity {
namespace {

// The chained run feeds our f0 into SineGen's running phase: an f0 a few ULP away from the
// reference's (f0 itself matches to ~4e-7) accumulates over 57600 samples into ~1.3e-4 of the
// excitation and ~5e-4 of the waveform (measured on turbo-tiny). Every stage from its golden
// input is held to kF32Tolerance; only the tensors downstream of the chained phase get this.
constexpr double kChainedTolerance = 1e-3;

// Compares every trace tensor whose name the golden also holds (suffix appended to the check
// name); the SineGen output is recorded as its first N samples ("...sine_waves.head").
void compare_trace(ParityReport& report, const WeightStore& golden, const hift::HiftTrace& trace,
                   const ExecContext& ctx, const std::string& suffix, bool bf16) {
  for (const auto& [name, tensor] : trace.tensors) {
    if (name == "hift.sinegen.sine_waves") {
      if (!golden.contains("hift.sinegen.sine_waves.head")) continue;
      const Tensor expected = golden.get_any("hift.sinegen.sine_waves.head");
      Tensor head;
      ops::slice(ctx, tensor, 2, 0, std::min(expected.dim(2), tensor.dim(2)), head);
      // first 0.2 s: little drift
      report.compare(name + ".head" + suffix, head, expected,
                     bf16 ? kBf16HiftTolerance : kF32Tolerance);
      continue;
    }
    if (!golden.contains(name)) continue;
    const bool upstream = name == "hift.f0" || suffix != " [chained]";
    report.compare(name + suffix, tensor, golden.get_any(name),
                   bf16       ? kBf16HiftTolerance
                   : upstream ? kF32Tolerance
                              : kChainedTolerance);
  }
}

}  // namespace

ParityReport run_s3gen_hift_parity(const std::filesystem::path& model_dir,
                                   const std::filesystem::path& golden,
                                   const ParityOptions& options) {
  ParityReport report(golden.string());
  const auto g = WeightStore::open(golden);
  const auto model = hift::load_hift(model_dir);
  std::unique_ptr<ThreadPool> pool;
  if (options.n_threads > 1) pool = std::make_unique<ThreadPool>(options.n_threads);
  const ExecContext ctx{pool.get()};
  CHATTERD_CHECK(!options.bf16_vocoder || model->pack_bf16(ctx), Unsupported,
                 "bf16 vocoder parity: this CPU has no AVX512_BF16");
  const bool bf16 = options.bf16_vocoder;

  const Tensor mel = g->get_any("hift.in.speech_feat");
  const std::int64_t h = model->harmonics();
  const std::int64_t samples = mel.dim(2) * model->samples_per_frame();
  hift::HiftSourceNoise noise;
  noise.phase = g->get_f32("rng.sinegen_phase_vec_raw", {1, h, 1}).reshape({h});
  noise.randn = g->get_f32("rng.sinegen_noise_randn", {1, h, samples}).reshape({h, samples});

  // 1. End to end, plus S3Gen.inference's trim_fade on the output.
  hift::HiftTrace trace;
  hift::HiftOutput out = model->infer(ctx, mel, noise, nullptr, &trace);
  hift::apply_trim_fade(out.wav);
  trace.put("output.wav", out.wav);
  compare_trace(report, *g, trace, ctx, " [chained]", bf16);
  if (g->contains("const.trim_fade")) {
    const Tensor expected = g->get_any("const.trim_fade");
    const auto w = hift::trim_fade_window();
    report.compare("const.trim_fade",
                   Tensor::from_span<float>(w, {static_cast<std::int64_t>(w.size())}), expected);
  }

  // 2. Source from the golden f0, decoder from the golden excitation.
  Tensor source;
  model->make_source(ctx, g->get_any("hift.f0"), noise, source);
  report.compare("output.sources [golden f0]", source, g->get_any("output.sources"),
                 bf16 ? kBf16HiftTolerance : kF32Tolerance);
  hift::HiftTrace dtrace;
  Tensor wav;
  model->decode(ctx, mel, g->get_any("output.sources"), wav, &dtrace);
  hift::apply_trim_fade(wav);
  dtrace.put("output.wav", wav);
  compare_trace(report, *g, dtrace, ctx, " [golden source]", bf16);
  return report;
}

}  // namespace chatterd::parity
