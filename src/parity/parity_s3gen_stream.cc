// s3gen_stream golden: HiFT with a non-empty cache_source (the vocoder's streaming hook). The
// SineGen draws are s3gen_hift's (the reference restored the RNG state), so that sibling golden
// supplies them.
#include <algorithm>
#include <memory>

#include "core/check.h"
#include "core/thread_pool.h"
#include "models/hift/hift.h"
#include "models/hift/hift_load.h"
#include "parity/parity.h"
#include "weights/weight_store.h"

namespace chatterd::parity {

ParityReport run_s3gen_stream_parity(const std::filesystem::path& model_dir,
                                     const std::filesystem::path& golden,
                                     const ParityOptions& options) {
  ParityReport report(golden.string());
  const auto g = WeightStore::open(golden);
  const auto rng_file = golden.parent_path() / "s3gen_hift.safetensors";
  CHATTERD_CHECK(std::filesystem::exists(rng_file), IoError,
                 "{}: the SineGen draws come from the sibling golden {}, which is missing",
                 golden.string(), rng_file.string());
  const auto r = WeightStore::open(rng_file);
  const auto model = hift::load_hift(model_dir);
  std::unique_ptr<ThreadPool> pool;
  if (options.n_threads > 1) pool = std::make_unique<ThreadPool>(options.n_threads);
  const ExecContext ctx{pool.get()};

  const Tensor mel = g->get_any("hift_cache.in.speech_feat");
  const Tensor cache = g->get_any("hift_cache.in.cache_source");
  const std::int64_t h = model->harmonics();
  const std::int64_t samples = mel.dim(2) * model->samples_per_frame();
  hift::HiftSourceNoise noise;
  noise.phase = r->get_f32("rng.sinegen_phase_vec_raw", {1, h, 1}).reshape({h});
  noise.randn = r->get_f32("rng.sinegen_noise_randn", {1, h, samples}).reshape({h, samples});

  // Stage by stage: the source from the reference f0 (same mel as s3gen_hift) with the cache
  // written over its start, then the decoder from the reference source.
  Tensor source;
  model->make_source(ctx, r->get_any("hift.f0"), noise, source);
  std::copy_n(cache.data<float>(), cache.numel(), source.data<float>());
  report.compare("hift_cache.output.sources", source, g->get_any("hift_cache.output.sources"));
  Tensor wav;
  model->decode(ctx, mel, g->get_any("hift_cache.output.sources"), wav);
  report.compare("hift_cache.output.wav", wav, g->get_any("hift_cache.output.wav"));
  // Chained from the mel through Hift::infer(cache_source): see s3gen_hift's kChainedTolerance
  // (our f0 differs from the reference's by a few ULP, which the running phase accumulates).
  const hift::HiftOutput out = model->infer(ctx, mel, noise, &cache);
  report.compare("hift_cache.output.sources [chained]", out.source,
                 g->get_any("hift_cache.output.sources"), 1e-3);
  report.compare("hift_cache.output.wav [chained]", out.wav, g->get_any("hift_cache.output.wav"),
                 1e-3);
  return report;
}

}  // namespace chatterd::parity
