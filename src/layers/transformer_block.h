#pragma once
// diffusers BasicTransformerBlock (norm_type "layer_norm", self-attention only, as Matcha-TTS /
// CosyVoice's ConditionalDecoder uses it), on NTC features:
//   x += to_out(attn(norm1(x))), x += ff.net.2(GELU(ff.net.0.proj(norm3(x)))).
// The attention has heads x head_dim inner width (which need not equal the model width), q/k/v
// without bias, to_out with bias, scale 1/sqrt(head_dim), exact-erf GELU, LayerNorm eps 1e-5.

#include <cstdint>
#include <span>
#include <string_view>

#include "chatterd/core/tensor.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd::layers {

struct TransformerBlockDims {
  std::int64_t dim = 256;
  std::int64_t heads = 8;
  std::int64_t head_dim = 64;
  std::int64_t ff_mult = 4;
};

class TransformerBlock {
 public:
  TransformerBlock() = default;
  // Reads <prefix>.{norm1,attn1.to_q,attn1.to_k,attn1.to_v,attn1.to_out.0,norm3,ff.net.0.proj,
  // ff.net.2}.
  TransformerBlock(const WeightStore& store, std::string_view prefix,
                   const TransformerBlockDims& dims);

  // x [B, T, dim] updated in place. key_mask: Bool [B, T] (false = padded key, never attended),
  // or null when every frame is valid. `lengths` (instead of a key mask, for right-padded
  // batches): row b's first lengths[b] frames attend to each other only, as if the row were
  // alone; its attention output past them is zero.
  void forward(const ExecContext& ctx, Tensor& x, const Tensor* key_mask,
               std::span<const std::int64_t> lengths = {}) const;
  void pack_bf16(const ExecContext& ctx);  // bf16 GEMM weights (see Linear::pack_bf16)
  // To ctx's CUDA device with `dtype` matrices (Linear::to_device); forward then takes device
  // tensors (the key mask too).
  void to_device(const ExecContext& ctx, DType dtype);

 private:
  TransformerBlockDims dims_;
  LayerNorm norm1_, norm3_;
  Linear to_q_, to_k_, to_v_, to_out_, ff_in_, ff_out_;
  bool bf16_ = false;  // pack_bf16 ran: attention products on the bf16 tile too
};

}  // namespace chatterd::layers
