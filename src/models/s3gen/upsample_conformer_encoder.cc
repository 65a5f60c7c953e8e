#include "models/s3gen/upsample_conformer_encoder.h"

#include <fmt/format.h>

#include <cmath>
#include <string>

#include "core/check.h"
#include "ops/activation.h"
#include "ops/device.h"
#include "ops/elementwise.h"
#include "ops/layout.h"
#include "ops/rel_shift.h"
#include "ops/upsample.h"

namespace chatterd {

UpsampleConformerEncoder::UpsampleConformerEncoder(const WeightStore& store,
                                                   std::string_view prefix,
                                                   const ConformerEncoderConfig& config)
    : config_(config) {
  const std::string p(prefix);
  const std::int64_t d = config.output_size;
  const float embed_eps = static_cast<float>(config.embed_norm_eps);
  embed_linear_ = layers::Linear(store, p + ".embed.out.0", config.input_size, d, true);
  embed_norm_ = layers::LayerNorm(store, p + ".embed.out.1", d, embed_eps);
  up_embed_linear_ = layers::Linear(store, p + ".up_embed.out.0", config.input_size, d, true);
  up_embed_norm_ = layers::LayerNorm(store, p + ".up_embed.out.1", d, embed_eps);
  after_norm_ = layers::LayerNorm(store, p + ".after_norm", d, embed_eps);
  const std::int64_t look = config.pre_lookahead_len;
  lookahead_conv1_ =
      layers::PaddedConv1d(store, p + ".pre_lookahead_layer.conv1", d, d, look + 1, 0, look);
  lookahead_conv2_ = layers::PaddedConv1d(store, p + ".pre_lookahead_layer.conv2", d, d, 3, 2, 0);
  const std::int64_t s = config.up_stride;
  up_conv_ = layers::PaddedConv1d(store, p + ".up_layer.conv", d, d, 2 * s + 1, 2 * s, 0);
  layers::ConformerLayerDims dims;
  dims.d_model = d;
  dims.heads = config.attention_heads;
  dims.ffn = config.linear_units;
  dims.key_bias = config.key_bias;
  dims.norm_eps = static_cast<float>(config.layer_norm_eps);
  for (std::int64_t i = 0; i < config.num_blocks; ++i) {
    encoders_.emplace_back(store, fmt::format("{}.encoders.{}", p, i), dims);
  }
  for (std::int64_t i = 0; i < config.num_up_blocks; ++i) {
    up_encoders_.emplace_back(store, fmt::format("{}.up_encoders.{}", p, i), dims);
  }
}

Tensor UpsampleConformerEncoder::embed(const ExecContext& ctx, const layers::Linear& linear,
                                       const layers::LayerNorm& norm, const Tensor& x,
                                       Tensor& out) const {
  Tensor y;
  linear.forward(ctx, x, y);
  norm.forward(ctx, y, y);
  const auto d = static_cast<double>(config_.output_size);
  ops::scale(ctx, y, static_cast<float>(std::sqrt(d)), out);
  Tensor table = ops::espnet_rel_pos_table(x.dim(1), config_.output_size);
  return on_device_ ? ops::to_device(ctx, table) : table;
}

void UpsampleConformerEncoder::forward(const ExecContext& ctx, const Tensor& xs, Tensor& h,
                                       const FlowTap* tap) const {
  const std::int64_t d = config_.output_size;
  CHATTERD_CHECK(xs.rank() == 3 && xs.dim(0) == 1 && xs.dim(2) == config_.input_size, ShapeError,
                 "UpsampleConformerEncoder: xs {} must be [1, T, {}]", xs.shape().to_string(),
                 config_.input_size);
  const std::int64_t t = xs.dim(1);
  CHATTERD_CHECK(t > 0, InvalidArgument, "UpsampleConformerEncoder: empty sequence");
  CHATTERD_CHECK(!on_device_ || (tap == nullptr && xs.device() == Device::CUDA), InvalidArgument,
                 "UpsampleConformerEncoder: on the device it takes a device xs and no taps "
                 "(taps read host tensors)");

  Tensor x;
  Tensor pos = embed(ctx, embed_linear_, embed_norm_, xs, x);
  emit_tap(tap, "encoder.embed.out", x);
  emit_tap(tap, "encoder.embed.pos_emb", pos.reshape({1, 2 * t - 1, d}));

  // PreLookaheadLayer on NCT, residual in NTC.
  {
    Tensor nct, a, b, back;
    ops::transpose(ctx, x, 1, 2, nct);
    lookahead_conv1_.forward(ctx, nct, a);
    ops::leaky_relu(ctx, a, a, 0.01f);
    lookahead_conv2_.forward(ctx, a, b);
    ops::transpose(ctx, b, 1, 2, back);
    ops::add(ctx, x, back, x);
  }
  emit_tap(tap, "encoder.pre_lookahead.out", x);
  for (std::size_t i = 0; i < encoders_.size(); ++i) {
    encoders_[i].forward(ctx, x, pos);
    emit_tap(tap, fmt::format("encoder.encoders.{}.out", i), x);
  }

  Tensor nct, up, conv, up_ntc;
  ops::transpose(ctx, x, 1, 2, nct);
  emit_tap(tap, "encoder.up_layer.in", nct);
  ops::upsample_nearest1d(ctx, nct, config_.up_stride, up);
  up_conv_.forward(ctx, up, conv);
  emit_tap(tap, "encoder.up_layer.out", conv);
  ops::transpose(ctx, conv, 1, 2, up_ntc);

  const std::int64_t t2 = up_ntc.dim(1);
  pos = embed(ctx, up_embed_linear_, up_embed_norm_, up_ntc, x);
  emit_tap(tap, "encoder.up_embed.out", x);
  emit_tap(tap, "encoder.up_embed.pos_emb", pos.reshape({1, 2 * t2 - 1, d}));
  for (std::size_t i = 0; i < up_encoders_.size(); ++i) {
    up_encoders_[i].forward(ctx, x, pos);
    emit_tap(tap, fmt::format("encoder.up_encoders.{}.out", i), x);
  }
  after_norm_.forward(ctx, x, h);
  emit_tap(tap, "encoder.after_norm.out", h);
}

void UpsampleConformerEncoder::to_device(const ExecContext& ctx, DType dtype) {
  if (on_device_) return;
  for (layers::Linear* l : {&embed_linear_, &up_embed_linear_}) l->to_device(ctx, dtype);
  for (layers::LayerNorm* n : {&embed_norm_, &up_embed_norm_, &after_norm_}) n->to_device(ctx);
  for (layers::PaddedConv1d* c : {&lookahead_conv1_, &lookahead_conv2_, &up_conv_}) {
    c->to_device(ctx, dtype);
  }
  for (auto& l : encoders_) l.to_device(ctx, dtype);
  for (auto& l : up_encoders_) l.to_device(ctx, dtype);
  on_device_ = true;
}

void UpsampleConformerEncoder::pack_bf16(const ExecContext& ctx) {
  if (on_device_) return;  // the device holds its own matrices
  embed_linear_.pack_bf16(ctx);
  up_embed_linear_.pack_bf16(ctx);
  for (layers::PaddedConv1d* c : {&lookahead_conv1_, &lookahead_conv2_, &up_conv_}) {
    c->pack_bf16(ctx);
  }
  for (auto& l : encoders_) l.pack_bf16(ctx);
  for (auto& l : up_encoders_) l.pack_bf16(ctx);
}

}  // namespace chatterd
