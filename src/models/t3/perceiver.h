#pragma once
// The conditioning Perceiver resampler of the English/Multilingual T3 (reference
// modules/perceiver.py: Perceiver + AttentionBlock2 + AttentionQKV), eval mode:
//   block(x1, x2) = x1 + proj_out(MHA(to_q(LN(x1)), to_k(LN(x2)), to_v(LN(x2))))
// with ONE LayerNorm shared by the query and key/value sides, heads from the config, scale
// head_dim^-0.5, no mask. The same block runs twice:
//   pre = block(query, prompt)   (cross-attention: learned query [Q, d] against the prompt [P, d])
//   out = block(pre, pre)        (self-attention)

#include <cstdint>
#include <string_view>

#include "chatterd/core/tensor.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "models/t3/t3_config.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd {

struct PerceiverScratch {
  Tensor pre;      // [Q, d] output of the cross step
  Tensor norm_q;   // [Q, d]
  Tensor norm_kv;  // [P, d]
  Tensor q;        // [Q, d]
  Tensor k;        // [P, d]
  Tensor v;        // [P, d]
  Tensor attn;     // [Q, H, D]
  Tensor proj;     // [Q, d]
};

class Perceiver {
 public:
  Perceiver() = default;
  // Reads "<prefix>.pre_attention_query" [1, Q, d] and "<prefix>.attn.{norm,to_q,to_k,to_v,
  // proj_out}.*".
  Perceiver(const WeightStore& store, std::string_view prefix, const PerceiverConfig& config);

  // prompt: f32 [P > 0, d] -> out: f32 [Q, d].
  void forward(const ExecContext& ctx, const Tensor& prompt, Tensor& out,
               PerceiverScratch& scratch) const;

  std::int64_t num_queries() const { return config_.num_queries; }

 private:
  // out = x1 + proj_out(attn(...)); out must not alias x1 or x2.
  void block(const ExecContext& ctx, const Tensor& x1, const Tensor& x2, Tensor& out,
             PerceiverScratch& s) const;

  PerceiverConfig config_;
  Tensor query_;  // [Q, d] f32
  layers::LayerNorm norm_;
  layers::Linear to_q_;
  layers::Linear to_k_;
  layers::Linear to_v_;
  layers::Linear proj_out_;
};

}  // namespace chatterd
