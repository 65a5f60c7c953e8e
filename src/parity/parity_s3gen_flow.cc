// S3Gen flow (tokens -> mel) against golden/s3gen_flow.safetensors: the golden's inputs and
// recorded noise are fed in, every intermediate the model taps under the golden's own key is
// compared, and every golden stage key the model did not produce is a failing check.

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string>

#include "core/check.h"
#include "core/thread_pool.h"
#include "models/model_dir.h"
#include "models/model_hparams.h"
#include "models/s3gen/s3gen_flow.h"
#include "models/variant.h"
#include "parity/parity.h"
#include "weights/weight_store.h"

namespace chatterd::parity {
namespace {

bool is_integer(DType d) {
  return d == DType::I64 || d == DType::I32 || d == DType::Bool;
}

// Bool masks compare as exact i64 0/1.
Tensor as_i64(const Tensor& t) {
  if (t.dtype() != DType::Bool) return t;
  Tensor out = Tensor::empty(t.shape(), DType::I64);
  for (std::int64_t i = 0; i < t.numel(); ++i)
    out.data<std::int64_t>()[i] = t.data<bool>()[i] ? 1 : 0;
  return out;
}

}  // namespace

ParityReport run_s3gen_flow_parity(const std::filesystem::path& model_dir,
                                   const std::filesystem::path& golden,
                                   const ParityOptions& options) {
  const Variant variant = detect_variant(model_dir);
  const ModelHparams hp = load_hparams(model_dir, variant);
  const ModelDir dir = ModelDir::scan(model_dir, variant);
  const auto s3gen_path = dir.find(ModelComponent::S3Gen);
  CHATTERD_CHECK(s3gen_path.has_value(), IoError, "{}: no S3Gen checkpoint for variant {}",
                 model_dir.string(), variant_name(variant));
  const auto weights = WeightStore::open(*s3gen_path);
  S3GenFlow flow(*weights, hp.s3gen);
  const auto g = WeightStore::open(golden);

  ThreadPool pool(options.n_threads);
  ExecContext ctx;
  ctx.pool = options.n_threads > 1 ? &pool : nullptr;
  CHATTERD_CHECK(!options.bf16_vocoder || flow.pack_bf16(ctx), Unsupported,
                 "bf16 vocoder parity: this CPU has no AVX512_BF16");
  const double tolerance = options.bf16_vocoder ? kBf16FlowTolerance : kF32Tolerance;

  S3GenPrompt prompt;
  prompt.tokens = g->get_any("input.prompt_token");
  prompt.embedding = g->get_any("input.embedding");
  // input.prompt_feat is (1, frames, 80) as embed_ref makes it.
  prompt.mel = g->get_any("input.prompt_feat");
  const Tensor speech = g->get_any("input.speech_tokens");
  const Tensor steps = g->get_any("input.n_cfm_timesteps");
  CHATTERD_CHECK(steps.numel() == 1, ModelFormatError, "{}: input.n_cfm_timesteps must be [1]",
                 golden.string());

  // The recorded draws, composed as the reference does (meanflow: two draws).
  Tensor z = g->get_any("rng.cfm_z");
  if (hp.s3gen.meanflow) z = compose_meanflow_noise(z, g->get_any("rng.noised_mels"));

  std::map<std::string, Tensor, std::less<>> taps;
  const FlowTap tap = [&taps](std::string_view name, const Tensor& v) {
    taps[std::string(name)] = v.clone();
  };
  S3GenFlowOptions opt;
  opt.n_timesteps = steps.data<std::int64_t>()[0];
  opt.noise = &z;
  opt.tap = &tap;
  const Tensor mel = flow.infer(ctx, speech, prompt, nullptr, opt);

  ParityReport report(golden.string());
  for (const TensorInfo& info : g->tensors()) {
    const std::string& name = info.name;
    if (name.starts_with("input.") || name.starts_with("rng.")) continue;
    const Tensor expected = g->get_any(name);
    const auto it = taps.find(name);
    if (it == taps.end()) {
      ParityCheck c;
      c.name = name;
      c.note = "not produced by the C++ flow";
      report.add(std::move(c));
      continue;
    }
    if (is_integer(expected.dtype())) {
      report.compare_exact(name, as_i64(it->second), as_i64(expected));
    } else {
      report.compare(name, it->second, expected, tolerance);
    }
  }
  return report;
}

}  // namespace chatterd::parity
