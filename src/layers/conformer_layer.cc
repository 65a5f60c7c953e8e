#include "layers/conformer_layer.h"

#include <string>

#include "ops/activation.h"
#include "ops/elementwise.h"

namespace chatterd::layers {

ConformerLayer::ConformerLayer(const WeightStore& store, std::string_view prefix,
                               const ConformerLayerDims& dims) {
  const std::string p(prefix);
  norm_mha_ = LayerNorm(store, p + ".norm_mha", dims.d_model, dims.norm_eps);
  norm_ff_ = LayerNorm(store, p + ".norm_ff", dims.d_model, dims.norm_eps);
  attn_ = RelPositionAttention(store, p + ".self_attn", dims.d_model, dims.heads, dims.key_bias);
  w1_ = Linear(store, p + ".feed_forward.w_1", dims.d_model, dims.ffn, true);
  w2_ = Linear(store, p + ".feed_forward.w_2", dims.ffn, dims.d_model, true);
}

void ConformerLayer::forward(const ExecContext& ctx, Tensor& x, const Tensor& pos_emb) const {
  Tensor h, a;
  norm_mha_.forward(ctx, x, h);
  attn_.forward(ctx, h, pos_emb, a);
  ops::add(ctx, x, a, x);
  norm_ff_.forward(ctx, x, h);
  w1_.forward(ctx, h, a);
  ops::silu(ctx, a, a);
  w2_.forward(ctx, a, h);
  ops::add(ctx, x, h, x);
}

void ConformerLayer::to_device(const ExecContext& ctx, DType dtype) {
  norm_mha_.to_device(ctx);
  norm_ff_.to_device(ctx);
  attn_.to_device(ctx, dtype);
  w1_.to_device(ctx, dtype);
  w2_.to_device(ctx, dtype);
}

void ConformerLayer::pack_bf16(const ExecContext& ctx) {
  attn_.pack_bf16(ctx);
  w1_.pack_bf16(ctx);
  w2_.pack_bf16(ctx);
}

}  // namespace chatterd::layers
