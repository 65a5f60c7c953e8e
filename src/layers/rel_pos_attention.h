#pragma once
// ESPnet / WeNet RelPositionMultiHeadedAttention (Transformer-XL style relative positions, the
// "new" ESPnet encoding) over one unpadded sequence:
//   scores = ((q + pos_bias_u) k^T + rel_shift((q + pos_bias_v) p^T)) / sqrt(d_k),
//   p = linear_pos(pos_emb) (no bias), full bidirectional softmax, then linear_out.

#include <cstdint>
#include <string_view>

#include "chatterd/core/tensor.h"
#include "layers/linear.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd::layers {

class RelPositionAttention {
 public:
  RelPositionAttention() = default;
  // Reads <prefix>.{linear_q,linear_k,linear_v,linear_out}.{weight,bias} (linear_k's bias only
  // when key_bias), <prefix>.linear_pos.weight and <prefix>.pos_bias_{u,v} [heads, d_k].
  RelPositionAttention(const WeightStore& store, std::string_view prefix, std::int64_t d_model,
                       std::int64_t heads, bool key_bias);

  // x [1, T, D] (or [T, D]); pos_emb [2T - 1, D] from ops::espnet_rel_pos_table; out like x.
  void forward(const ExecContext& ctx, const Tensor& x, const Tensor& pos_emb, Tensor& out) const;
  void pack_bf16(const ExecContext& ctx);  // bf16 GEMM weights (see Linear::pack_bf16)
  // To ctx's CUDA device, the linears as `dtype` (f32 or bf16), the position biases f32.
  void to_device(const ExecContext& ctx, DType dtype);

 private:
  Linear q_, k_, v_, out_, pos_;
  Tensor bias_u_;
  Tensor bias_v_;
  std::int64_t d_model_ = 0;
  std::int64_t heads_ = 0;
  std::int64_t d_k_ = 0;
};

}  // namespace chatterd::layers
