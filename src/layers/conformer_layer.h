#pragma once
// WeNet ConformerEncoderLayer as S3Gen uses it (normalize_before, no macaron FFN, no conv module):
//   x += RelPosMHA(norm_mha(x)); x += w_2(SiLU(w_1(norm_ff(x)))).

#include <cstdint>
#include <string_view>

#include "chatterd/core/tensor.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/rel_pos_attention.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd::layers {

struct ConformerLayerDims {
  std::int64_t d_model = 512;
  std::int64_t heads = 8;
  std::int64_t ffn = 2048;
  bool key_bias = true;
  float norm_eps = 1e-12f;
};

class ConformerLayer {
 public:
  ConformerLayer() = default;
  // Reads <prefix>.{norm_mha,norm_ff,self_attn.*,feed_forward.w_1,feed_forward.w_2}.
  ConformerLayer(const WeightStore& store, std::string_view prefix, const ConformerLayerDims& dims);

  // x [1, T, D] updated in place; pos_emb [2T - 1, D].
  void forward(const ExecContext& ctx, Tensor& x, const Tensor& pos_emb) const;
  void pack_bf16(const ExecContext& ctx);  // bf16 GEMM weights (see Linear::pack_bf16)
  // To ctx's CUDA device, matrices as `dtype` (f32 or bf16), norms and biases f32.
  void to_device(const ExecContext& ctx, DType dtype);

 private:
  LayerNorm norm_mha_, norm_ff_;
  RelPositionAttention attn_;
  Linear w1_, w2_;
};

}  // namespace chatterd::layers
