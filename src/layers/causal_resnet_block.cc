#include "layers/causal_resnet_block.h"

#include <string>

#include "core/check.h"
#include "ops/activation.h"
#include "ops/elementwise.h"
#include "ops/layout.h"

namespace chatterd::layers {

CausalBlock1D::CausalBlock1D(const WeightStore& store, std::string_view prefix, std::int64_t in,
                             std::int64_t out) {
  const std::string p(prefix);
  conv_ = PaddedConv1d(store, p + ".block.0", in, out, 3, /*pad_left=*/2, /*pad_right=*/0);
  norm_ = LayerNorm(store, p + ".block.2", out, 1e-5f);
}

void CausalBlock1D::forward(const ExecContext& ctx, const Tensor& x, const Tensor& mask,
                            Tensor& out) const {
  Tensor xm, y, yt;
  ops::mul(ctx, x, mask, xm);
  conv_.forward(ctx, xm, y);
  // LayerNorm over channels: NCT -> NTC -> norm -> NCT.
  ops::transpose(ctx, y, 1, 2, yt);
  norm_.forward(ctx, yt, yt);
  ops::mish(ctx, yt, yt);
  ops::transpose(ctx, yt, 1, 2, y);
  ops::mul(ctx, y, mask, out);
}

CausalResnetBlock1D::CausalResnetBlock1D(const WeightStore& store, std::string_view prefix,
                                         std::int64_t in, std::int64_t out, std::int64_t time_dim) {
  const std::string p(prefix);
  block1_ = CausalBlock1D(store, p + ".block1", in, out);
  block2_ = CausalBlock1D(store, p + ".block2", out, out);
  mlp_ = Linear(store, p + ".mlp.1", time_dim, out, true);
  res_conv_ = PaddedConv1d(store, p + ".res_conv", in, out, 1, 0, 0);
}

void CausalResnetBlock1D::forward(const ExecContext& ctx, const Tensor& x, const Tensor& mask,
                                  const Tensor& mish_t_emb, Tensor& out) const {
  CHATTERD_CHECK(x.rank() == 3 && mish_t_emb.rank() == 2 &&
                     (mish_t_emb.dim(0) == x.dim(0) || mish_t_emb.dim(0) == 1),
                 ShapeError, "resnet block: x {} and time embedding {} disagree",
                 x.shape().to_string(), mish_t_emb.shape().to_string());
  Tensor h, te, h2, xm, r;
  block1_.forward(ctx, x, mask, h);
  mlp_.forward(ctx, mish_t_emb, te);
  ops::add(ctx, h, te.reshape({te.dim(0), te.dim(1), 1}), h);
  block2_.forward(ctx, h, mask, h2);
  ops::mul(ctx, x, mask, xm);
  res_conv_.forward(ctx, xm, r);
  ops::add(ctx, h2, r, out);
}

void CausalBlock1D::pack_bf16(const ExecContext& ctx) {
  conv_.pack_bf16(ctx);
}

void CausalBlock1D::to_device(const ExecContext& ctx, DType dtype) {
  conv_.to_device(ctx, dtype);
  norm_.to_device(ctx);
}

void CausalResnetBlock1D::to_device(const ExecContext& ctx, DType dtype) {
  block1_.to_device(ctx, dtype);
  block2_.to_device(ctx, dtype);
  mlp_.to_device(ctx, DType::F32);
  res_conv_.to_device(ctx, dtype);
}

void CausalResnetBlock1D::pack_bf16(const ExecContext& ctx) {
  block1_.pack_bf16(ctx);
  block2_.pack_bf16(ctx);
  res_conv_.pack_bf16(ctx);  // mlp_ sees one row per utterance: stays f32
}

}  // namespace chatterd::layers
