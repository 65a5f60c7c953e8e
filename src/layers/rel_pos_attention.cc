#include "layers/rel_pos_attention.h"

#include <string>

#include "core/check.h"
#include "ops/device.h"
#include "ops/rel_pos_attention.h"

namespace chatterd::layers {

RelPositionAttention::RelPositionAttention(const WeightStore& store, std::string_view prefix,
                                           std::int64_t d_model, std::int64_t heads, bool key_bias)
    : d_model_(d_model), heads_(heads), d_k_(d_model / heads) {
  CHATTERD_CHECK(heads > 0 && d_model % heads == 0, InvalidArgument,
                 "{}: heads {} must divide d_model {}", prefix, heads, d_model);
  const std::string p(prefix);
  q_ = Linear(store, p + ".linear_q", d_model, d_model, true);
  k_ = Linear(store, p + ".linear_k", d_model, d_model, key_bias);
  v_ = Linear(store, p + ".linear_v", d_model, d_model, true);
  out_ = Linear(store, p + ".linear_out", d_model, d_model, true);
  pos_ = Linear(store, p + ".linear_pos", d_model, d_model, false);
  bias_u_ = store.get_f32(p + ".pos_bias_u", {heads, d_k_});
  bias_v_ = store.get_f32(p + ".pos_bias_v", {heads, d_k_});
}

void RelPositionAttention::forward(const ExecContext& ctx, const Tensor& x, const Tensor& pos_emb,
                                   Tensor& out) const {
  const std::int64_t t = x.dim(-2);
  CHATTERD_CHECK(x.dim(-1) == d_model_ && x.numel() == t * d_model_, ShapeError,
                 "rel-pos attention: x {} must be [1, T, {}]", x.shape().to_string(), d_model_);
  CHATTERD_CHECK(pos_emb.numel() == (2 * t - 1) * d_model_, ShapeError,
                 "rel-pos attention: pos_emb {} must be [2T - 1 = {}, {}]",
                 pos_emb.shape().to_string(), 2 * t - 1, d_model_);
  const Tensor x2 = x.reshape({t, d_model_});
  Tensor q, k, v, p;
  q_.forward(ctx, x2, q);
  k_.forward(ctx, x2, k);
  v_.forward(ctx, x2, v);
  pos_.forward(ctx, pos_emb.reshape({2 * t - 1, d_model_}), p);

  Tensor ctx_out;
  ops::rel_pos_attention(ctx, q, k, v, p, bias_u_, bias_v_, heads_, ctx_out);
  Tensor y;
  out_.forward(ctx, ctx_out, y);
  out = y.reshape(x.shape());
}

void RelPositionAttention::to_device(const ExecContext& ctx, DType dtype) {
  for (Linear* l : {&q_, &k_, &v_, &out_, &pos_}) l->to_device(ctx, dtype);
  if (bias_u_.device() != Device::CUDA) bias_u_ = ops::to_device(ctx, bias_u_);
  if (bias_v_.device() != Device::CUDA) bias_v_ = ops::to_device(ctx, bias_v_);
}

void RelPositionAttention::pack_bf16(const ExecContext& ctx) {
  for (Linear* l : {&q_, &k_, &v_, &out_, &pos_}) l->pack_bf16(ctx);
}

}  // namespace chatterd::layers
