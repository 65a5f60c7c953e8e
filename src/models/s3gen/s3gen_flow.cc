#include "models/s3gen/s3gen_flow.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "core/check.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/layout.h"

namespace chatterd {
namespace {

// Token ids as i64 values, from an i64/i32 tensor of shape [N] or [1, N].
std::vector<std::int64_t> token_values(const Tensor& t, const char* what) {
  CHATTERD_CHECK(t.rank() == 1 || (t.rank() == 2 && t.dim(0) == 1), ShapeError,
                 "S3GenFlow: {} must be [N] or [1, N], got {}", what, t.shape().to_string());
  std::vector<std::int64_t> v(static_cast<std::size_t>(t.numel()));
  if (t.dtype() == DType::I64) {
    std::copy_n(t.data<std::int64_t>(), v.size(), v.begin());
  } else if (t.dtype() == DType::I32) {
    std::copy_n(t.data<std::int32_t>(), v.size(), v.begin());
  } else {
    CHATTERD_THROW(DTypeError, "S3GenFlow: {} must be i64 or i32, got {}", what,
                   dtype_name(t.dtype()));
  }
  return v;
}

Tensor scalar_f32(float v) {
  return Tensor::from_span<float>(std::span<const float>(&v, 1), {1});
}

Tensor ones_bool(const Shape& s) {
  Tensor t = Tensor::empty(s, DType::Bool);
  std::fill_n(t.data<bool>(), t.numel(), true);
  return t;
}

// A tap that prefixes every name (the estimator's step-0 internals).
FlowTap prefixed(const FlowTap* tap, std::string prefix) {
  if (tap == nullptr || !*tap) return {};
  return [tap, prefix = std::move(prefix)](std::string_view name, const Tensor& v) {
    (*tap)(prefix + std::string(name), v);
  };
}

}  // namespace

S3GenPrompt S3GenPrompt::from_conds(const WeightStore& conds) {
  S3GenPrompt p;
  p.tokens = conds.get_any("gen.prompt_token");
  p.mel = conds.get_any("gen.prompt_feat");
  p.embedding = conds.get_any("gen.embedding");
  return p;
}

std::vector<float> flow_time_grid(std::int64_t n_timesteps, bool cosine) {
  CHATTERD_CHECK(n_timesteps >= 1, InvalidArgument, "flow solver: n_timesteps must be >= 1, got {}",
                 n_timesteps);
  const std::int64_t steps = n_timesteps + 1;
  // torch.linspace's f32 kernel: the first half counts up from 0, the second down from 1.
  const float step = 1.0f / static_cast<float>(steps - 1);
  const std::int64_t halfway = steps / 2;
  std::vector<float> g(static_cast<std::size_t>(steps));
  for (std::int64_t i = 0; i < steps; ++i) {
    g[static_cast<std::size_t>(i)] = i < halfway ? step * static_cast<float>(i)
                                                 : 1.0f - step * static_cast<float>(steps - i - 1);
  }
  if (cosine) {
    const auto pi = static_cast<float>(std::numbers::pi);
    for (float& v : g) v = 1.0f - static_cast<float>(std::cos(static_cast<double>(v * 0.5f * pi)));
  }
  return g;
}

Tensor compose_meanflow_noise(const Tensor& z, const Tensor& noised) {
  CHATTERD_CHECK(z.rank() == 3 && noised.rank() == 3 && z.dim(0) == 1 && noised.dim(0) == 1 &&
                     z.dim(1) == noised.dim(1),
                 ShapeError, "compose_meanflow_noise: z {} and noised {} must be [1, mel, *]",
                 z.shape().to_string(), noised.shape().to_string());
  Tensor out = z.clone();
  const std::int64_t t = z.dim(2);
  const std::int64_t n = std::min(t, noised.dim(2));
  const std::int64_t start = t - n;
  for (std::int64_t c = 0; c < z.dim(1); ++c) {
    const float* src = noised.data<float>() + c * noised.dim(2);
    float* dst = out.data<float>() + c * t + start;
    std::copy_n(src, n, dst);
  }
  return out;
}

S3GenFlow::S3GenFlow(const WeightStore& store, const S3GenConfig& config)
    : config_(config),
      encoder_(store, "flow.encoder", config.encoder),
      estimator_(store, "flow.decoder.estimator", config.estimator, config.meanflow) {
  input_embedding_ =
      store.get("flow.input_embedding.weight", {config.vocab_size, config.encoder.input_size});
  spk_affine_ = layers::Linear(store, "flow.spk_embed_affine_layer", config.spk_embed_dim,
                               config.mel_bins, true);
  encoder_proj_ =
      layers::Linear(store, "flow.encoder_proj", config.encoder.output_size, config.mel_bins, true);
}

FlowEncoding S3GenFlow::encode(const ExecContext& ctx, const Tensor& speech_tokens,
                               const S3GenPrompt& prompt, bool finalize, const FlowTap* tap) const {
  const std::int64_t mel = config_.mel_bins;
  const std::int64_t ratio = config_.token_mel_ratio;
  const auto speech = token_values(speech_tokens, "speech_tokens");
  const auto prompt_ids = token_values(prompt.tokens, "prompt tokens");
  CHATTERD_CHECK(!speech.empty(), InvalidArgument, "S3GenFlow: speech_tokens is empty");
  const auto tp = static_cast<std::int64_t>(prompt_ids.size());
  const auto n = tp + static_cast<std::int64_t>(speech.size());
  CHATTERD_CHECK(n <= kMaxTokens, InvalidArgument,
                 "S3GenFlow: {} prompt + {} speech tokens exceed the limit of {} tokens per call "
                 "(attention is quadratic in length; split the utterance)",
                 tp, speech.size(), kMaxTokens);
  std::vector<std::int64_t> ids(prompt_ids);
  ids.insert(ids.end(), speech.begin(), speech.end());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const bool is_prompt = static_cast<std::int64_t>(i) < tp;
    CHATTERD_CHECK(ids[i] >= 0 && ids[i] < config_.vocab_size, InvalidArgument,
                   "S3GenFlow: {} token {} at position {} is outside the vocabulary [0, {}) "
                   "(drop special tokens before S3Gen)",
                   is_prompt ? "prompt" : "speech", ids[i],
                   is_prompt ? static_cast<std::int64_t>(i) : static_cast<std::int64_t>(i) - tp,
                   config_.vocab_size);
  }
  const Tensor& pmel = prompt.mel;
  CHATTERD_CHECK(pmel.rank() == 3 && pmel.dim(0) == 1 && pmel.dim(2) == mel, ShapeError,
                 "S3GenFlow: prompt mel {} must be [1, frames, {}]", pmel.shape().to_string(), mel);
  check_dtype(pmel, DType::F32, "S3GenFlow: prompt mel");
  const std::int64_t f1 = pmel.dim(1);
  CHATTERD_CHECK(f1 == ratio * tp, InvalidArgument,
                 "S3GenFlow: prompt mel has {} frames but {} prompt tokens need {} x {} = {} "
                 "(truncate tokens to frames / {} as embed_ref does)",
                 f1, tp, ratio, tp, ratio * tp, ratio);
  const Tensor& xvec = prompt.embedding;
  CHATTERD_CHECK(xvec.numel() == config_.spk_embed_dim && xvec.dim(-1) == config_.spk_embed_dim,
                 ShapeError, "S3GenFlow: speaker embedding {} must be [1, {}]",
                 xvec.shape().to_string(), config_.spk_embed_dim);
  check_dtype(xvec, DType::F32, "S3GenFlow: speaker embedding");

  FlowEncoding enc;
  enc.prompt_frames = f1;

  // Speaker: F.normalize (x / max(||x||, 1e-12)) then the affine layer.
  {
    Tensor normed = Tensor::empty({1, config_.spk_embed_dim}, DType::F32);
    const float* s = xvec.data<float>();
    double ss = 0.0;
    for (std::int64_t i = 0; i < xvec.numel(); ++i) ss += static_cast<double>(s[i]) * s[i];
    const float norm = std::max(static_cast<float>(std::sqrt(ss)), 1e-12f);
    for (std::int64_t i = 0; i < xvec.numel(); ++i) normed.data<float>()[i] = s[i] / norm;
    emit_tap(tap, "flow.spk_embed_normalized", normed);
    spk_affine_.forward(ctx, normed, enc.spks);
    emit_tap(tap, "flow.spk_embed_affine.out", enc.spks);
  }

  const Tensor id_tensor = Tensor::from_span<std::int64_t>(ids, {1, n});
  emit_tap(tap, "flow.token_ids", id_tensor);
  Tensor xs;
  ops::embedding(ctx, input_embedding_, id_tensor, xs);
  emit_tap(tap, "flow.input_embedding.out", xs);
  // One unpadded utterance: the reference's "x mask" is a multiplication by ones.
  emit_tap(tap, "encoder.in.xs", xs);
  emit_tap(tap, "encoder.in.xs_lens", scalar_f32(static_cast<float>(n)));
  emit_tap(tap, "encoder.embed.mask", ones_bool({1, 1, n}));

  if (device_ && tap == nullptr) {
    enc.mu = encode_on_device(ctx, xs, finalize, f1);
  } else {
    enc.mu = encode_frames(ctx, encoder_, encoder_proj_, xs, finalize, f1, tap);
  }
  const std::int64_t t = enc.mu.dim(2);

  enc.mask = Tensor::empty({1, 1, t}, DType::F32);
  std::fill_n(enc.mask.data<float>(), t, 1.0f);
  enc.cond = Tensor::zeros({1, mel, t}, DType::F32);
  {
    const float* pm = pmel.data<float>();
    float* c = enc.cond.data<float>();
    for (std::int64_t f = 0; f < f1; ++f) {
      for (std::int64_t b = 0; b < mel; ++b) c[b * t + f] = pm[f * mel + b];
    }
  }
  return enc;
}

Tensor S3GenFlow::encode_frames(const ExecContext& ctx, const UpsampleConformerEncoder& encoder,
                                const layers::Linear& proj, const Tensor& xs, bool finalize,
                                std::int64_t f1, const FlowTap* tap) const {
  const std::int64_t ratio = config_.token_mel_ratio;
  Tensor h;
  encoder.forward(ctx, xs, h, tap);
  const std::int64_t t_full = h.dim(1);
  emit_tap(tap, "encoder.up_layer.out_lens", scalar_f32(static_cast<float>(t_full)));
  emit_tap(tap, "encoder.out.h", h);
  emit_tap(tap, "encoder.out.masks", ones_bool({1, 1, t_full}));

  std::int64_t t = t_full;
  if (!finalize) {
    t -= config_.encoder.pre_lookahead_len * ratio;
    CHATTERD_CHECK(t > f1, InvalidArgument,
                   "S3GenFlow: finalize=false leaves {} frames, none after the {} prompt frames "
                   "(need more than {} speech tokens)",
                   t, f1, config_.encoder.pre_lookahead_len);
    Tensor trimmed;
    ops::slice(ctx, h, 1, 0, t, trimmed);
    h = trimmed;
  }
  emit_tap(tap, "flow.encoder_proj.in", h);
  Tensor mu_ntc;
  proj.forward(ctx, h, mu_ntc);
  emit_tap(tap, "flow.encoder_proj.out_mu", mu_ntc);
  Tensor mu;
  ops::transpose(ctx, mu_ntc, 1, 2, mu);
  return mu;
}

void S3GenFlow::estimate(const ExecContext& ctx, const EstimatorInputs& in, Tensor& out,
                         const FlowTap* tap) const {
  estimator_.forward(ctx, in, out, tap);
}

Tensor S3GenFlow::draw_noise(Rng& rng, std::int64_t frames, std::int64_t speech_frames) const {
  const std::int64_t mel = config_.mel_bins;
  Tensor noised;
  if (config_.meanflow) {
    noised = Tensor::empty({1, mel, speech_frames}, DType::F32);
    rng.fill_normal(noised.data<float>(), noised.numel());
  }
  Tensor z = Tensor::empty({1, mel, frames}, DType::F32);
  rng.fill_normal(z.data<float>(), z.numel());
  return config_.meanflow ? compose_meanflow_noise(z, noised) : z;
}

Tensor S3GenFlow::solve(const ExecContext& ctx, const FlowEncoding& enc, const Tensor& z,
                        std::int64_t n_timesteps, const FlowTap* tap) const {
  const FlowEncoding* encs[] = {&enc};
  const Tensor* zs[] = {&z};
  return std::move(solve_batch(ctx, encs, zs, n_timesteps, tap).front());
}

std::vector<Tensor> S3GenFlow::solve_batch(const ExecContext& ctx,
                                           std::span<const FlowEncoding* const> encodings,
                                           std::span<const Tensor* const> noises,
                                           std::int64_t n_timesteps, const FlowTap* tap) const {
  const std::int64_t mel = config_.mel_bins;
  const auto n = static_cast<std::int64_t>(encodings.size());
  CHATTERD_CHECK(n >= 1 && noises.size() == encodings.size(), InvalidArgument,
                 "S3GenFlow::solve_batch: {} encodings and {} noises (need the same, >= 1)", n,
                 noises.size());
  CHATTERD_CHECK(n == 1 || tap == nullptr, InvalidArgument,
                 "S3GenFlow::solve_batch: taps need a batch of one");
  std::vector<std::int64_t> lens(static_cast<std::size_t>(n));
  std::int64_t t_max = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const FlowEncoding& e = *encodings[static_cast<std::size_t>(i)];
    const Tensor& z = *noises[static_cast<std::size_t>(i)];
    CHATTERD_CHECK(e.mu.rank() == 3 && e.mu.dim(0) == 1 && e.mu.dim(1) == mel, ShapeError,
                   "S3GenFlow: encoding {} mu {} must be [1, {}, T]", i, e.mu.shape().to_string(),
                   mel);
    const std::int64_t t = e.mu.dim(2);
    check_shape(e.mask, {1, 1, t}, "S3GenFlow: encoding mask");
    check_shape(e.spks, {1, mel}, "S3GenFlow: encoding spks");
    check_shape(e.cond, {1, mel, t}, "S3GenFlow: encoding cond");
    check_shape(z, {1, mel, t}, "S3GenFlow: noise z");
    check_dtype(z, DType::F32, "S3GenFlow: noise z");
    lens[static_cast<std::size_t>(i)] = t;
    t_max = std::max(t_max, t);
  }
  const bool meanflow = config_.meanflow;
  const auto grid = flow_time_grid(n_timesteps, !meanflow);
  if (n == 1) {
    const FlowEncoding& enc = *encodings[0];
    emit_tap(tap, "cfm.in.mu", enc.mu);
    emit_tap(tap, "cfm.in.mask", enc.mask);
    emit_tap(tap, "cfm.in.spks", enc.spks);
    emit_tap(tap, "cfm.in.cond", enc.cond);
    const std::int64_t steps = n_timesteps;
    emit_tap(tap, "cfm.in.n_timesteps",
             Tensor::from_span<std::int64_t>(std::span<const std::int64_t>(&steps, 1), {1}));
    if (meanflow) {
      Tensor noised;
      ops::slice(ctx, *noises[0], 2, enc.prompt_frames, t_max, noised);
      emit_tap(tap, "cfm.in.noised_mels", noised);
    }
  }

  // Estimator rows: item i is row i (meanflow), or rows 2i (conditioned) and 2i + 1 (CFG's
  // unconditioned row: mu = spks = cond = 0). Frames past an item's length are zero and masked.
  const std::int64_t per_item = meanflow ? 1 : 2;
  const std::int64_t b = n * per_item;
  SolveBatch sb;
  sb.items = n;
  sb.rows = b;
  sb.frames = t_max;
  sb.lengths = lens;
  sb.mask = Tensor::zeros({b, 1, t_max}, DType::F32);
  sb.mu = Tensor::zeros({b, mel, t_max}, DType::F32);
  sb.spks = Tensor::zeros({b, mel}, DType::F32);
  sb.cond = Tensor::zeros({b, mel, t_max}, DType::F32);
  sb.x = Tensor::zeros({n, mel, t_max}, DType::F32);
  // Rows [channels, len] of `src` [1, channels, len] into row `row` of dst [*, channels, t_max].
  auto put = [t_max](const Tensor& src, Tensor& dst, std::int64_t row) {
    const std::int64_t channels = src.dim(1);
    const std::int64_t len = src.dim(2);
    for (std::int64_t c = 0; c < channels; ++c) {
      std::copy_n(src.data<float>() + c * len, len,
                  dst.data<float>() + (row * channels + c) * t_max);
    }
  };
  for (std::int64_t i = 0; i < n; ++i) {
    const FlowEncoding& e = *encodings[static_cast<std::size_t>(i)];
    for (std::int64_t r = 0; r < per_item; ++r) put(e.mask, sb.mask, i * per_item + r);
    put(e.mu, sb.mu, i * per_item);
    put(e.cond, sb.cond, i * per_item);
    std::copy_n(e.spks.data<float>(), mel, sb.spks.data<float>() + i * per_item * mel);
    put(*noises[static_cast<std::size_t>(i)], sb.x, i);
  }
  if (device_ && tap == nullptr) {
    sb.x = solve_on_device(ctx, sb, grid);
  } else {
    solve_on_host(ctx, sb, grid, tap);
  }
  Tensor& x = sb.x;
  emit_tap(tap, "cfm.out.x", x);
  std::vector<Tensor> out;
  if (n == 1) {
    out.push_back(std::move(x));
    return out;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t len = lens[static_cast<std::size_t>(i)];
    Tensor xi = Tensor::empty({1, mel, len}, DType::F32);
    for (std::int64_t c = 0; c < mel; ++c) {
      std::copy_n(x.data<float>() + (i * mel + c) * t_max, len, xi.data<float>() + c * len);
    }
    out.push_back(std::move(xi));
  }
  return out;
}

void S3GenFlow::solve_on_host(const ExecContext& ctx, SolveBatch& batch,
                              std::span<const float> grid, const FlowTap* tap) const {
  const std::int64_t mel = config_.mel_bins;
  const bool meanflow = config_.meanflow;
  const std::int64_t n = batch.items;
  const std::int64_t b = batch.rows;
  const std::int64_t t_max = batch.frames;
  const auto n_timesteps = static_cast<std::int64_t>(grid.size()) - 1;
  const std::vector<std::int64_t>& lens = batch.lengths;
  Tensor& x = batch.x;
  Tensor x_in, v;
  const auto cfg = static_cast<float>(config_.inference_cfg_rate);
  for (std::int64_t k = 0; k < n_timesteps; ++k) {
    const float t0 = grid[static_cast<std::size_t>(k)];
    const float t1 = grid[static_cast<std::size_t>(k + 1)];
    const std::string step = fmt::format("cfm.step{}.", k);
    emit_tap(tap, step + "x", x);
    emit_tap(tap, step + "t", scalar_f32(t0));
    if (meanflow) emit_tap(tap, step + "r", scalar_f32(t1));
    if (k == 0) {
      emit_tap(tap, step + "est_in.mask", batch.mask);
      emit_tap(tap, step + "est_in.mu", batch.mu);
      emit_tap(tap, step + "est_in.spks", batch.spks);
      emit_tap(tap, step + "est_in.cond", batch.cond);
    }
    if (meanflow) {
      x_in = x;
    } else {
      x_in.resize({b, mel, t_max}, DType::F32);
      const std::int64_t item = mel * t_max;
      for (std::int64_t i = 0; i < n; ++i) {
        const float* src = x.data<float>() + i * item;
        std::copy_n(src, item, x_in.data<float>() + 2 * i * item);
        std::copy_n(src, item, x_in.data<float>() + (2 * i + 1) * item);
      }
    }
    const std::vector<float> ts(static_cast<std::size_t>(b), t0);
    const std::vector<float> rs(static_cast<std::size_t>(b), t1);
    EstimatorInputs in;
    in.x = &x_in;
    in.mask = &batch.mask;
    in.mu = &batch.mu;
    in.spks = &batch.spks;
    in.cond = &batch.cond;
    in.t = ts;
    if (meanflow) in.r = rs;
    const FlowTap est_tap = k == 0 ? prefixed(tap, step + "est.") : FlowTap{};
    estimator_.forward(ctx, in, v, k == 0 ? &est_tap : nullptr);

    const float dt = t1 - t0;
    if (meanflow) {
      emit_tap(tap, step + "v", v);
    } else {
      emit_tap(tap, step + "v_cond", v.narrow0(0, 1));
      emit_tap(tap, step + "v_uncond", v.narrow0(1, 1));
    }
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t len = lens[static_cast<std::size_t>(i)];
      for (std::int64_t c = 0; c < mel; ++c) {
        float* xd = x.data<float>() + (i * mel + c) * t_max;
        if (meanflow) {
          const float* vd = v.data<float>() + (i * mel + c) * t_max;
          for (std::int64_t f = 0; f < len; ++f) xd[f] = xd[f] + dt * vd[f];
        } else {
          const float* vc = v.data<float>() + ((2 * i) * mel + c) * t_max;
          const float* vu = v.data<float>() + ((2 * i + 1) * mel + c) * t_max;
          for (std::int64_t f = 0; f < len; ++f) {
            const float vel = (1.0f + cfg) * vc[f] - cfg * vu[f];
            xd[f] = xd[f] + dt * vel;
          }
        }
      }
    }
  }
}

Tensor S3GenFlow::infer(const ExecContext& ctx, const Tensor& speech_tokens,
                        const S3GenPrompt& prompt, Rng* rng,
                        const S3GenFlowOptions& options) const {
  const FlowEncoding enc = encode(ctx, speech_tokens, prompt, options.finalize, options.tap);
  const std::int64_t t = enc.mu.dim(2);
  const std::int64_t steps =
      options.n_timesteps > 0 ? options.n_timesteps : config_.n_cfm_timesteps;
  Tensor z;
  if (options.noise != nullptr) {
    z = *options.noise;
  } else {
    CHATTERD_CHECK(rng != nullptr, InvalidArgument,
                   "S3GenFlow::infer: give either options.noise or an Rng");
    z = draw_noise(*rng, t, config_.token_mel_ratio * speech_tokens.numel());
  }
  const Tensor x = solve(ctx, enc, z, steps, options.tap);
  Tensor mel;
  ops::slice(ctx, x, 2, enc.prompt_frames, t, mel);
  emit_tap(options.tap, "output.mel", mel);
  return mel;
}

bool S3GenFlow::pack_bf16(const ExecContext& ctx) {
  // With a device the host encoder and estimator only serve taps (parity checks): left f32.
  if (device_) return true;
  if (!ops::bf16_gemm_available(ctx)) return false;
  encoder_proj_.pack_bf16(ctx);  // spk_affine_ sees one row: stays f32
  encoder_.pack_bf16(ctx);
  estimator_.pack_bf16(ctx);
  return true;
}

}  // namespace chatterd
