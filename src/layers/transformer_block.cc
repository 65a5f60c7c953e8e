#include "layers/transformer_block.h"

#include <algorithm>
#include <string>

#include "core/check.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/device.h"
#include "ops/elementwise.h"
#include "ops/gemm_bf16.h"

namespace chatterd::layers {

TransformerBlock::TransformerBlock(const WeightStore& store, std::string_view prefix,
                                   const TransformerBlockDims& dims)
    : dims_(dims) {
  const std::string p(prefix);
  const std::int64_t inner = dims.heads * dims.head_dim;
  norm1_ = LayerNorm(store, p + ".norm1", dims.dim, 1e-5f);
  norm3_ = LayerNorm(store, p + ".norm3", dims.dim, 1e-5f);
  to_q_ = Linear(store, p + ".attn1.to_q", dims.dim, inner, false);
  to_k_ = Linear(store, p + ".attn1.to_k", dims.dim, inner, false);
  to_v_ = Linear(store, p + ".attn1.to_v", dims.dim, inner, false);
  to_out_ = Linear(store, p + ".attn1.to_out.0", inner, dims.dim, true);
  ff_in_ = Linear(store, p + ".ff.net.0.proj", dims.dim, dims.ff_mult * dims.dim, true);
  ff_out_ = Linear(store, p + ".ff.net.2", dims.ff_mult * dims.dim, dims.dim, true);
}

void TransformerBlock::forward(const ExecContext& ctx, Tensor& x, const Tensor* key_mask,
                               std::span<const std::int64_t> lengths) const {
  CHATTERD_CHECK(x.rank() == 3 && x.dim(2) == dims_.dim, ShapeError,
                 "transformer block: x {} must be [B, T, {}]", x.shape().to_string(), dims_.dim);
  const std::int64_t b = x.dim(0);
  const std::int64_t t = x.dim(1);
  CHATTERD_CHECK(
      lengths.empty() || (key_mask == nullptr && static_cast<std::int64_t>(lengths.size()) == b),
      InvalidArgument,
      "transformer block: {} lengths for a batch of {} (and no key mask with them)", lengths.size(),
      b);
  const std::int64_t inner = dims_.heads * dims_.head_dim;
  Tensor h, q, k, v, a, y;
  norm1_.forward(ctx, x, h);
  to_q_.forward(ctx, h, q);
  to_k_.forward(ctx, h, k);
  to_v_.forward(ctx, h, v);
  ops::ensure_like(ctx, x, a, {b, t, inner}, DType::F32);
  for (std::int64_t i = 0; i < b; ++i) {
    const std::int64_t len = lengths.empty() ? t : lengths[static_cast<std::size_t>(i)];
    CHATTERD_CHECK(len >= 0 && len <= t, InvalidArgument,
                   "transformer block: length {} of row {} outside [0, {}]", len, i, t);
    Tensor ai = a.select0(i);
    if (len < t) {
      Tensor padding = ai.narrow0(len, t - len);
      ops::fill_zero(ctx, padding);
    }
    if (len == 0) continue;
    const Shape s{len, dims_.heads, dims_.head_dim};
    auto rows = [&](const Tensor& m) { return m.select0(i).narrow0(0, len).reshape(s); };
    ops::AttentionOptions o;
    Tensor mask_row;
    if (key_mask != nullptr) {
      mask_row = key_mask->select0(i);
      o.key_padding_mask = &mask_row;
    }
    Tensor oi = ai.narrow0(0, len).reshape(s);
    if (bf16_) {
      ops::attention_bf16(ctx, rows(q), rows(k), rows(v), o.key_padding_mask, oi);
      continue;
    }
    ops::attention(ctx, rows(q), rows(k), rows(v), o, oi);
  }
  to_out_.forward(ctx, a, y);
  ops::add(ctx, x, y, x);
  norm3_.forward(ctx, x, h);
  ff_in_.forward(ctx, h, a);
  ops::gelu(ctx, a, a);
  ff_out_.forward(ctx, a, y);
  ops::add(ctx, x, y, x);
}

void TransformerBlock::to_device(const ExecContext& ctx, DType dtype) {
  norm1_.to_device(ctx);
  norm3_.to_device(ctx);
  for (Linear* l : {&to_q_, &to_k_, &to_v_, &to_out_, &ff_in_, &ff_out_}) l->to_device(ctx, dtype);
  bf16_ = false;  // the CPU tile's attention; the device runs its own
}

void TransformerBlock::pack_bf16(const ExecContext& ctx) {
  for (Linear* l : {&to_q_, &to_k_, &to_v_, &to_out_, &ff_in_, &ff_out_}) bf16_ = l->pack_bf16(ctx);
}

}  // namespace chatterd::layers
