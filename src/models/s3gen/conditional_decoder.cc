#include "models/s3gen/conditional_decoder.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/check.h"
#include "ops/activation.h"
#include "ops/device.h"
#include "ops/elementwise.h"
#include "ops/layout.h"

namespace chatterd {
namespace {

layers::TransformerBlockDims block_dims(const EstimatorConfig& c) {
  layers::TransformerBlockDims d;
  d.dim = c.channels;
  d.heads = c.num_heads;
  d.head_dim = c.attention_head_dim;
  d.ff_mult = c.ff_mult;
  return d;
}

std::vector<layers::TransformerBlock> make_blocks(const WeightStore& store, const std::string& p,
                                                  const EstimatorConfig& c) {
  std::vector<layers::TransformerBlock> blocks;
  for (std::int64_t k = 0; k < c.n_blocks; ++k) {
    blocks.emplace_back(store, fmt::format("{}.{}", p, k), block_dims(c));
  }
  return blocks;
}

void tap_prefixed(const FlowTap* tap, std::string_view name, const Tensor& v) {
  emit_tap(tap, name, v);
}

// A tap that sees [1, ...] values repeated to [b, ...].
FlowTap repeat_rows(const FlowTap* tap, std::int64_t b) {
  if (tap == nullptr || !*tap) return {};
  return [tap, b](std::string_view name, const Tensor& v) {
    if (v.rank() < 1 || v.dim(0) != 1) return (*tap)(name, v);
    Shape shape = v.shape();
    shape.set(0, b);
    Tensor out = Tensor::empty(shape, v.dtype());
    const std::size_t row = v.nbytes();
    for (std::int64_t i = 0; i < b; ++i) {
      std::memcpy(static_cast<std::byte*>(out.raw_data()) + i * row, v.raw_data(), row);
    }
    (*tap)(name, out);
  };
}

}  // namespace

Tensor sinusoidal_time_embedding(std::span<const float> t, std::int64_t dim) {
  CHATTERD_CHECK(dim >= 4 && dim % 2 == 0, InvalidArgument,
                 "sinusoidal_time_embedding: dim must be even and >= 4, got {}", dim);
  const std::int64_t half = dim / 2;
  const auto b = static_cast<std::int64_t>(t.size());
  Tensor out = Tensor::empty({b, dim}, DType::F32);
  float* o = out.data<float>();
  // f32 throughout like the reference: w_k = exp(k * -c), arg = (1000 t) * w_k.
  const auto neg_c = static_cast<float>(-(std::log(10000.0) / static_cast<double>(half - 1)));
  for (std::int64_t i = 0; i < b; ++i) {
    const float st = 1000.0f * t[static_cast<std::size_t>(i)];
    for (std::int64_t k = 0; k < half; ++k) {
      const float w = std::exp(static_cast<float>(k) * neg_c);
      const double arg = static_cast<double>(st * w);
      o[i * dim + k] = static_cast<float>(std::sin(arg));
      o[i * dim + half + k] = static_cast<float>(std::cos(arg));
    }
  }
  return out;
}

ConditionalDecoder::ConditionalDecoder(const WeightStore& store, std::string_view prefix,
                                       const EstimatorConfig& config, bool meanflow)
    : config_(config), meanflow_(meanflow) {
  const std::string p(prefix);
  const std::int64_t c = config.channels;
  const std::int64_t td = config.time_embed_dim;
  time_linear1_ = layers::Linear(store, p + ".time_mlp.linear_1", config.in_channels, td, true);
  time_linear2_ = layers::Linear(store, p + ".time_mlp.linear_2", td, td, true);
  if (meanflow) time_mixer_ = layers::Linear(store, p + ".time_embed_mixer", 2 * td, td, false);
  down_resnet_ =
      layers::CausalResnetBlock1D(store, p + ".down_blocks.0.0", config.in_channels, c, td);
  down_tf_ = make_blocks(store, p + ".down_blocks.0.1", config);
  down_conv_ = layers::PaddedConv1d(store, p + ".down_blocks.0.2", c, c, 3, 2, 0);
  for (std::int64_t m = 0; m < config.num_mid_blocks; ++m) {
    mid_resnets_.emplace_back(store, fmt::format("{}.mid_blocks.{}.0", p, m), c, c, td);
    mid_tf_.push_back(make_blocks(store, fmt::format("{}.mid_blocks.{}.1", p, m), config));
  }
  up_resnet_ = layers::CausalResnetBlock1D(store, p + ".up_blocks.0.0", 2 * c, c, td);
  up_tf_ = make_blocks(store, p + ".up_blocks.0.1", config);
  up_conv_ = layers::PaddedConv1d(store, p + ".up_blocks.0.2", c, c, 3, 2, 0);
  final_block_ = layers::CausalBlock1D(store, p + ".final_block", c, c);
  final_proj_ = layers::PaddedConv1d(store, p + ".final_proj", c, config.out_channels, 1, 0, 0);
}

Tensor ConditionalDecoder::time_embedding(const ExecContext& ctx, const EstimatorInputs& in,
                                          const FlowTap* tap) const {
  auto embed = [&](std::span<const float> times, const Tensor* given, const char* which) {
    Tensor s;
    if (given != nullptr && times.size() == 1) {
      check_shape(*given, {1, config_.in_channels}, "ConditionalDecoder: precomputed sinusoid");
      s = *given;
    } else {
      s = sinusoidal_time_embedding(times, config_.in_channels);
      if (on_device_) s = ops::to_device(ctx, s);
    }
    tap_prefixed(tap, fmt::format("time_emb.{}", which), s);
    Tensor h, e;
    time_linear1_.forward(ctx, s, h);
    ops::silu(ctx, h, h);
    time_linear2_.forward(ctx, h, e);
    tap_prefixed(tap, fmt::format("time_mlp.out_{}", which), e);
    return e;
  };
  Tensor e = embed(in.t, in.t_sinusoid, "t");
  if (meanflow_) {
    CHATTERD_CHECK(in.r.size() == in.t.size(), InvalidArgument,
                   "meanflow estimator needs one r per row: {} t, {} r", in.t.size(), in.r.size());
    const Tensor er = embed(in.r, in.r_sinusoid, "r");
    Tensor cat, mixed;
    const Tensor parts[] = {e, er};
    ops::concat(ctx, parts, 1, cat);
    time_mixer_.forward(ctx, cat, mixed);
    tap_prefixed(tap, "time_embed_mixer.out", mixed);
    e = mixed;
  }
  Tensor m;
  ops::mish(ctx, e, m);
  return m;
}

void ConditionalDecoder::transformers(const ExecContext& ctx,
                                      const std::vector<layers::TransformerBlock>& blocks,
                                      const Tensor& x_nct, const Tensor* key_mask,
                                      std::span<const std::int64_t> lengths, Tensor& out_nct,
                                      const FlowTap* tap, std::string_view tap_name) const {
  Tensor x;
  ops::transpose(ctx, x_nct, 1, 2, x);
  for (const auto& b : blocks) b.forward(ctx, x, key_mask, lengths);
  tap_prefixed(tap, tap_name, x);
  ops::transpose(ctx, x, 1, 2, out_nct);
}

void ConditionalDecoder::forward(const ExecContext& ctx, const EstimatorInputs& in, Tensor& out,
                                 const FlowTap* tap) const {
  CHATTERD_CHECK(in.x && in.mask && in.mu && in.spks && in.cond, InvalidArgument,
                 "ConditionalDecoder: every input (x, mask, mu, spks, cond) is required");
  const Tensor& x = *in.x;
  const std::int64_t mel = config_.out_channels;
  CHATTERD_CHECK(x.rank() == 3 && x.dim(1) == mel, ShapeError,
                 "ConditionalDecoder: x {} must be [B, {}, T]", x.shape().to_string(), mel);
  const std::int64_t b = x.dim(0);
  const std::int64_t t = x.dim(2);
  check_shape(*in.mask, {b, 1, t}, "ConditionalDecoder: mask");
  check_shape(*in.mu, {b, mel, t}, "ConditionalDecoder: mu");
  check_shape(*in.spks, {b, mel}, "ConditionalDecoder: spks");
  check_shape(*in.cond, {b, mel, t}, "ConditionalDecoder: cond");
  CHATTERD_CHECK(static_cast<std::int64_t>(in.t.size()) == b, InvalidArgument,
                 "ConditionalDecoder: {} times for a batch of {}", in.t.size(), b);
  const Tensor& mask = *in.mask;
  if (on_device_) {
    CHATTERD_CHECK(tap == nullptr, InvalidArgument,
                   "ConditionalDecoder: taps read host tensors; this estimator is on the device");
    for (const Tensor* input : {in.x, in.mask, in.mu, in.spks, in.cond}) {
      CHATTERD_CHECK(input->device() == Device::CUDA, InvalidArgument,
                     "ConditionalDecoder: the estimator is on the device but an input ({}) is on "
                     "the host",
                     input->to_string());
    }
  }

  // The solvers give every row the same (t, r): the time MLPs then run on one row, broadcast
  // over the batch, so a row's result does not depend on how many rows run with it. Taps see
  // the row repeated to the batch (the goldens record [B, ...]).
  bool same_time = true;
  for (std::size_t i = 1; i < in.t.size(); ++i) {
    same_time = same_time && in.t[i] == in.t[0] && (in.r.empty() || in.r[i] == in.r[0]);
  }
  Tensor t_emb;
  if (same_time && b > 1) {
    EstimatorInputs one = in;
    one.t = in.t.first(1);
    if (!in.r.empty()) one.r = in.r.first(1);
    const FlowTap repeated = repeat_rows(tap, b);
    t_emb = time_embedding(ctx, one, tap != nullptr ? &repeated : nullptr);
  } else {
    t_emb = time_embedding(ctx, in, tap);
  }

  // Masked frames: a right-padded batch (each row's mask = ones then zeros) becomes per-row
  // lengths, so attention runs over each row's own frames exactly as if it were alone; any
  // other mask is a key padding mask.
  std::vector<std::int64_t> lengths(static_cast<std::size_t>(b), t);
  bool any_masked = false;
  bool prefix = true;
  Tensor key_mask = Tensor::empty({b, t}, DType::Bool);
  {
    const Tensor mask_host = in.host_mask != nullptr ? *in.host_mask : ops::to_host(ctx, mask);
    check_shape(mask_host, {b, 1, t}, "ConditionalDecoder: host mask");
    const float* m = mask_host.data<float>();
    bool* k = key_mask.data<bool>();
    for (std::int64_t r = 0; r < b; ++r) {
      std::int64_t len = t;
      for (std::int64_t f = 0; f < t; ++f) {
        const bool valid = m[r * t + f] > 0.5f;
        k[r * t + f] = valid;
        if (!valid && len == t) len = f;
        prefix = prefix && (valid == (f < len));
        any_masked = any_masked || !valid;
      }
      lengths[static_cast<std::size_t>(r)] = len;
    }
  }
  if (on_device_ && any_masked && !prefix) key_mask = ops::to_device(ctx, key_mask);
  const Tensor* km = any_masked && !prefix ? &key_mask : nullptr;
  const std::span<const std::int64_t> lens = any_masked && prefix
                                                 ? std::span<const std::int64_t>(lengths)
                                                 : std::span<const std::int64_t>();

  Tensor spks_t, xin;
  {
    const Tensor s3 = in.spks->reshape({b, mel, 1});
    ops::ensure_like(ctx, x, spks_t, {b, mel, t}, DType::F32);
    ops::fill_zero(ctx, spks_t);
    ops::add(ctx, spks_t, s3, spks_t);
    const Tensor parts[] = {x, *in.mu, spks_t, *in.cond};
    ops::concat(ctx, parts, 1, xin);
  }

  Tensor h, skip, tmp;
  down_resnet_.forward(ctx, xin, mask, t_emb, h);
  tap_prefixed(tap, "down0.resnet.out", h);
  transformers(ctx, down_tf_, h, km, lens, skip, tap, "down0.transformers.out");
  ops::mul(ctx, skip, mask, tmp);
  down_conv_.forward(ctx, tmp, h);
  tap_prefixed(tap, "down0.downsample.out", h);

  for (std::size_t m = 0; m < mid_resnets_.size(); ++m) {
    mid_resnets_[m].forward(ctx, h, mask, t_emb, tmp);
    transformers(ctx, mid_tf_[m], tmp, km, lens, h, tap, fmt::format("mid{}.out", m));
  }

  {
    const Tensor parts[] = {h, skip};
    ops::concat(ctx, parts, 1, tmp);
  }
  up_resnet_.forward(ctx, tmp, mask, t_emb, h);
  tap_prefixed(tap, "up0.resnet.out", h);
  transformers(ctx, up_tf_, h, km, lens, tmp, tap, "up0.transformers.out");
  ops::mul(ctx, tmp, mask, h);
  up_conv_.forward(ctx, h, tmp);
  tap_prefixed(tap, "up0.upsample.out", tmp);
  final_block_.forward(ctx, tmp, mask, h);
  tap_prefixed(tap, "final_block.out", h);
  ops::mul(ctx, h, mask, tmp);
  final_proj_.forward(ctx, tmp, h);
  tap_prefixed(tap, "final_proj.out", h);
  ops::mul(ctx, h, mask, out);
}

void ConditionalDecoder::to_device(const ExecContext& ctx, DType dtype) {
  CHATTERD_CHECK(dtype == DType::F32 || dtype == DType::BF16, InvalidArgument,
                 "ConditionalDecoder::to_device: matrices must be f32 or bf16, got {}",
                 dtype_name(dtype));
  if (on_device_) return;
  // The time MLPs see one row per call: f32 (the device's row kernel reads them once).
  for (layers::Linear* l : {&time_linear1_, &time_linear2_}) l->to_device(ctx, DType::F32);
  if (meanflow_) time_mixer_.to_device(ctx, DType::F32);
  for (layers::CausalResnetBlock1D* r : {&down_resnet_, &up_resnet_}) r->to_device(ctx, dtype);
  for (auto& r : mid_resnets_) r.to_device(ctx, dtype);
  for (auto& b : down_tf_) b.to_device(ctx, dtype);
  for (auto& b : up_tf_) b.to_device(ctx, dtype);
  for (auto& blocks : mid_tf_) {
    for (auto& b : blocks) b.to_device(ctx, dtype);
  }
  for (layers::PaddedConv1d* c : {&down_conv_, &up_conv_, &final_proj_}) c->to_device(ctx, dtype);
  final_block_.to_device(ctx, dtype);
  on_device_ = true;
}

void ConditionalDecoder::pack_bf16(const ExecContext& ctx) {
  if (on_device_) return;  // the device holds its own matrices
  // The time MLPs see one row per batch item: they stay f32.
  for (layers::CausalResnetBlock1D* r : {&down_resnet_, &up_resnet_}) r->pack_bf16(ctx);
  for (auto& r : mid_resnets_) r.pack_bf16(ctx);
  for (auto& b : down_tf_) b.pack_bf16(ctx);
  for (auto& b : up_tf_) b.pack_bf16(ctx);
  for (auto& blocks : mid_tf_) {
    for (auto& b : blocks) b.pack_bf16(ctx);
  }
  for (layers::PaddedConv1d* c : {&down_conv_, &up_conv_, &final_proj_}) c->pack_bf16(ctx);
  final_block_.pack_bf16(ctx);
}

}  // namespace chatterd
