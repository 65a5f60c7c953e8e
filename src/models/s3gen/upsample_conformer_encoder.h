#pragma once
// CosyVoice2's UpsampleConformerEncoder (S3Gen flow.encoder), on one unpadded sequence:
//   embed: Linear + LayerNorm(eps 1e-5), x * sqrt(D), ESPnet rel-pos table of 2T - 1 rows;
//   PreLookaheadLayer: pad 3 zeros RIGHT, conv k4, leaky_relu(0.01), pad 2 zeros LEFT, conv k3,
//     residual (the only look-ahead: 3 tokens);
//   num_blocks conformer layers (full bidirectional rel-pos attention);
//   Upsample1D: nearest x stride, pad 2*stride zeros LEFT, conv k(2*stride+1);
//   up_embed (as embed, new 2T table), num_up_blocks conformer layers, after_norm (eps 1e-5).

#include <cstdint>
#include <string_view>
#include <vector>

#include "chatterd/core/tensor.h"
#include "layers/conformer_layer.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/padded_conv1d.h"
#include "models/s3gen/flow_tap.h"
#include "models/s3gen/s3gen_config.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd {

class UpsampleConformerEncoder {
 public:
  // Reads <prefix>.{embed,pre_lookahead_layer,encoders.N,up_layer,up_embed,up_encoders.N,
  // after_norm}.*; throws ModelFormatError naming a missing or misshaped tensor.
  UpsampleConformerEncoder(const WeightStore& store, std::string_view prefix,
                           const ConformerEncoderConfig& config);

  // xs [1, T, input_size] (token embeddings) -> h [1, up_stride * T, output_size].
  // Taps: encoder.{embed.out, embed.pos_emb, pre_lookahead.out, encoders.K.out, up_layer.in,
  // up_layer.out, up_embed.out, up_embed.pos_emb, up_encoders.K.out, after_norm.out}.
  void forward(const ExecContext& ctx, const Tensor& xs, Tensor& h,
               const FlowTap* tap = nullptr) const;
  void pack_bf16(const ExecContext& ctx);  // bf16 GEMM weights (see Linear::pack_bf16)
  // Moves the weights to ctx's CUDA device (matrices as `dtype`, f32 or bf16); forward then takes
  // a device xs (taps refused) and gives a device h. Call on a copy to keep a host encoder.
  void to_device(const ExecContext& ctx, DType dtype);

  const ConformerEncoderConfig& config() const { return config_; }

 private:
  // Linear + LayerNorm + x sqrt(D); returns the rel-pos table for the sequence.
  Tensor embed(const ExecContext& ctx, const layers::Linear& linear, const layers::LayerNorm& norm,
               const Tensor& x, Tensor& out) const;

  ConformerEncoderConfig config_;
  bool on_device_ = false;
  layers::Linear embed_linear_, up_embed_linear_;
  layers::LayerNorm embed_norm_, up_embed_norm_, after_norm_;
  layers::PaddedConv1d lookahead_conv1_, lookahead_conv2_, up_conv_;
  std::vector<layers::ConformerLayer> encoders_, up_encoders_;
};

}  // namespace chatterd
