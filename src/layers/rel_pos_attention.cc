#include "layers/rel_pos_attention.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/blas.h"
#include "core/check.h"
#include "ops/softmax.h"

namespace chatterd::layers {
namespace {

// Query rows per work item: bounds the [rows, 2T - 1] scratch of the positional scores.
constexpr std::int64_t kRowBlock = 64;

}  // namespace

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

  Tensor ctx_out = Tensor::empty({t, d_model_}, DType::F32);
  const float* qd = q.data<float>();
  const float* kd = k.data<float>();
  const float* vd = v.data<float>();
  const float* pd = p.data<float>();
  const float* ud = bias_u_.data<float>();
  const float* bvd = bias_v_.data<float>();
  float* od = ctx_out.data<float>();
  const std::int64_t dk = d_k_;
  const std::int64_t d = d_model_;
  const std::int64_t n_pos = 2 * t - 1;
  const float inv_scale = 1.0f / std::sqrt(static_cast<float>(dk));
  const std::int64_t blocks = (t + kRowBlock - 1) / kRowBlock;
  const ExecContext inner{nullptr, ctx.isa};
  ctx.parallel_for(heads_ * blocks, 1, [&](std::int64_t w0, std::int64_t w1) {
    std::vector<float> qu, qv, ac, bd;
    for (std::int64_t w = w0; w < w1; ++w) {
      const std::int64_t h = w / blocks;
      const std::int64_t i0 = (w % blocks) * kRowBlock;
      const std::int64_t rows = std::min(kRowBlock, t - i0);
      qu.resize(static_cast<std::size_t>(rows * dk));
      qv.resize(qu.size());
      for (std::int64_t i = 0; i < rows; ++i) {
        const float* qi = qd + (i0 + i) * d + h * dk;
        for (std::int64_t c = 0; c < dk; ++c) {
          qu[static_cast<std::size_t>(i * dk + c)] = qi[c] + ud[h * dk + c];
          qv[static_cast<std::size_t>(i * dk + c)] = qi[c] + bvd[h * dk + c];
        }
      }
      ac.resize(static_cast<std::size_t>(rows * t));
      bd.resize(static_cast<std::size_t>(rows * n_pos));
      // matrix_ac = (q + u) k^T, matrix_bd = (q + v) p^T for this head's columns.
      cpu::sgemm(false, true, rows, t, dk, 1.0f, qu.data(), dk, kd + h * dk, d, 0.0f, ac.data(), t);
      cpu::sgemm(false, true, rows, n_pos, dk, 1.0f, qv.data(), dk, pd + h * dk, d, 0.0f, bd.data(),
                 n_pos);
      for (std::int64_t i = 0; i < rows; ++i) {
        float* s = ac.data() + i * t;
        // rel_shift: key j of query (i0 + i) reads relative position (i0 + i) - j.
        const float* b = bd.data() + i * n_pos + (t - 1 - (i0 + i));
        for (std::int64_t j = 0; j < t; ++j) s[j] = (s[j] + b[j]) * inv_scale;
      }
      Tensor scores = Tensor::borrow(ac.data(), {rows, t}, DType::F32);
      ops::softmax(inner, scores, scores);
      cpu::sgemm(false, false, rows, dk, t, 1.0f, ac.data(), t, vd + h * dk, d, 0.0f,
                 od + i0 * d + h * dk, d);
    }
  });
  Tensor y;
  out_.forward(ctx, ctx_out, y);
  out = y.reshape(x.shape());
}

void RelPositionAttention::pack_bf16(const ExecContext& ctx) {
  for (Linear* l : {&q_, &k_, &v_, &out_, &pos_}) l->pack_bf16(ctx);
}

}  // namespace chatterd::layers
