#pragma once
// The causal blocks of CosyVoice's ConditionalDecoder (Matcha-TTS ResnetBlock1D made causal), on
// NCT features with a [B, 1, T] float mask (1 = valid frame):
//   CausalBlock1D(x)   = Mish(LayerNorm_over_C(CausalConv1d_k3(x * mask))) * mask
//                        (the conv pads k - 1 = 2 zeros on the LEFT, so frame t sees t-2..t);
//   CausalResnetBlock1D = block2(block1(x) + Linear(Mish(t_emb))[:, :, None]) + res_conv(x * mask).

#include <cstdint>
#include <string_view>

#include "chatterd/core/tensor.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/padded_conv1d.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd::layers {

class CausalBlock1D {
 public:
  CausalBlock1D() = default;
  // Reads <prefix>.block.0 (conv [out, in, 3]) and <prefix>.block.2 (LayerNorm [out]).
  CausalBlock1D(const WeightStore& store, std::string_view prefix, std::int64_t in,
                std::int64_t out);

  // x [B, in, T], mask [B, 1, T] -> out [B, out, T]. out must not alias x.
  void forward(const ExecContext& ctx, const Tensor& x, const Tensor& mask, Tensor& out) const;
  void pack_bf16(const ExecContext& ctx);  // bf16 GEMM weights (see Linear::pack_bf16)
  // To ctx's CUDA device, the conv weight as `dtype` (see PaddedConv1d::to_device).
  void to_device(const ExecContext& ctx, DType dtype);

 private:
  PaddedConv1d conv_;
  LayerNorm norm_;
};

class CausalResnetBlock1D {
 public:
  CausalResnetBlock1D() = default;
  // Reads <prefix>.{block1,block2,mlp.1,res_conv}.
  CausalResnetBlock1D(const WeightStore& store, std::string_view prefix, std::int64_t in,
                      std::int64_t out, std::int64_t time_dim);

  // x [B, in, T], mask [B, 1, T], mish_t_emb [B or 1, time_dim] = Mish(time embedding) (shared by
  // every block, so computed once by the caller) -> out [B, out, T]. out must not alias x.
  void forward(const ExecContext& ctx, const Tensor& x, const Tensor& mask,
               const Tensor& mish_t_emb, Tensor& out) const;
  void pack_bf16(const ExecContext& ctx);  // bf16 GEMM weights (see Linear::pack_bf16)
  // To ctx's CUDA device, matrices as `dtype`; the time MLP (one row per call) stays f32.
  void to_device(const ExecContext& ctx, DType dtype);

 private:
  CausalBlock1D block1_, block2_;
  Linear mlp_;
  PaddedConv1d res_conv_;
};

}  // namespace chatterd::layers
