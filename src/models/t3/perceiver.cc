#include "models/t3/perceiver.h"

#include <string>

#include "core/check.h"
#include "ops/attention.h"
#include "ops/elementwise.h"

namespace chatterd {

Perceiver::Perceiver(const WeightStore& store, std::string_view prefix,
                     const PerceiverConfig& config)
    : config_(config) {
  const std::int64_t d = config.embedding_dim;
  CHATTERD_CHECK(config.num_heads > 0 && d % config.num_heads == 0 && config.query_size == d,
                 InvalidArgument,
                 "Perceiver: num_heads {} must divide embedding_dim {} (= query_size {})",
                 config.num_heads, d, config.query_size);
  const std::string p(prefix);
  query_ = store.get_f32(p + ".pre_attention_query", Shape{1, config.num_queries, d})
               .reshape({config.num_queries, d});
  norm_ = layers::LayerNorm(store, p + ".attn.norm", d, static_cast<float>(config.norm_eps));
  to_q_ = layers::Linear(store, p + ".attn.to_q", d, d, true);
  to_k_ = layers::Linear(store, p + ".attn.to_k", d, d, true);
  to_v_ = layers::Linear(store, p + ".attn.to_v", d, d, true);
  proj_out_ = layers::Linear(store, p + ".attn.proj_out", d, d, true);
}

void Perceiver::block(const ExecContext& ctx, const Tensor& x1, const Tensor& x2, Tensor& out,
                      PerceiverScratch& s) const {
  const std::int64_t d = config_.embedding_dim;
  const std::int64_t h = config_.num_heads;
  const std::int64_t q_len = x1.dim(0);
  const std::int64_t kv_len = x2.dim(0);
  norm_.forward(ctx, x1, s.norm_q);
  norm_.forward(ctx, x2, s.norm_kv);
  to_q_.forward(ctx, s.norm_q, s.q);
  to_k_.forward(ctx, s.norm_kv, s.k);
  to_v_.forward(ctx, s.norm_kv, s.v);
  ops::AttentionOptions opt;  // no mask, default scale head_dim^-0.5
  ops::attention(ctx, s.q.reshape({q_len, h, d / h}), s.k.reshape({kv_len, h, d / h}),
                 s.v.reshape({kv_len, h, d / h}), opt, s.attn);
  proj_out_.forward(ctx, s.attn.reshape({q_len, d}), s.proj);
  ops::add(ctx, x1, s.proj, out);
}

void Perceiver::forward(const ExecContext& ctx, const Tensor& prompt, Tensor& out,
                        PerceiverScratch& s) const {
  const std::int64_t d = config_.embedding_dim;
  CHATTERD_CHECK(
      prompt.dtype() == DType::F32 && prompt.rank() == 2 && prompt.dim(0) > 0 && prompt.dim(1) == d,
      ShapeError, "Perceiver: prompt must be f32 [P > 0, {}], got {}", d, prompt.to_string());
  block(ctx, query_, prompt, s.pre, s);
  out.resize(Shape{config_.num_queries, d}, DType::F32);
  block(ctx, s.pre, s.pre, out, s);
}

}  // namespace chatterd
