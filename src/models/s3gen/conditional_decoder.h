#pragma once
// The CFM velocity estimator (CosyVoice2 ConditionalDecoder, S3Gen flow.decoder.estimator): a
// one-level causal 1-D UNet over NCT features.
//   time: SinusoidalPosEmb(in_channels, x1000) -> TimestepEmbedding (Linear, SiLU, Linear);
//         meanflow: r embedded the same way, time_embed_mixer(cat[e_t, e_r]) (no bias);
//   input: cat[x, mu, spks broadcast over T, cond] (in_channels = 4 x mel bins);
//   down: resnet(in -> C), n_blocks transformer blocks, skip, CausalConv1d(C, C, 3);
//   mid:  num_mid_blocks x [resnet(C -> C), n_blocks transformer blocks];
//   up:   cat[x, skip] -> resnet(2C -> C), n_blocks transformer blocks, CausalConv1d(C, C, 3);
//   final_block (CausalBlock1D), final_proj (1x1 conv -> mel bins), x mask.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "chatterd/core/tensor.h"
#include "layers/causal_resnet_block.h"
#include "layers/linear.h"
#include "layers/padded_conv1d.h"
#include "layers/transformer_block.h"
#include "models/s3gen/flow_tap.h"
#include "models/s3gen/s3gen_config.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd {

// SinusoidalPosEmb(dim) with scale 1000: row b = [sin(1000 t_b w_k) | cos(1000 t_b w_k)],
// w_k = exp(-k ln(10000) / (dim/2 - 1)), k < dim/2; f32 [B, dim]. dim must be even and >= 4.
Tensor sinusoidal_time_embedding(std::span<const float> t, std::int64_t dim);

struct EstimatorInputs {
  const Tensor* x = nullptr;     // f32 [B, mel, T]: the current ODE state
  const Tensor* mask = nullptr;  // f32 [B, 1, T]: 1 = valid frame
  const Tensor* mu = nullptr;    // f32 [B, mel, T]: encoder projection
  const Tensor* spks = nullptr;  // f32 [B, mel]: projected speaker embedding
  const Tensor* cond = nullptr;  // f32 [B, mel, T]: prompt mel, zeros elsewhere
  std::span<const float> t;      // [B] start times
  std::span<const float> r;      // [B] end times (meanflow only; empty otherwise)
  // A host copy of `mask` when the inputs live on the device (the estimator reads the mask's
  // values to plan its attention; without it, it downloads them every call).
  const Tensor* host_mask = nullptr;
  // sinusoidal_time_embedding of t[0] (and r[0]), f32 [1, in_channels] on the inputs' device,
  // when every row shares them: a solver that uploads all its steps' embeddings at once spares
  // each call an upload that would wait for the device.
  const Tensor* t_sinusoid = nullptr;
  const Tensor* r_sinusoid = nullptr;
};

class ConditionalDecoder {
 public:
  // Reads <prefix>.{time_mlp,down_blocks.0,mid_blocks.N,up_blocks.0,final_block,final_proj}.* and
  // <prefix>.time_embed_mixer.weight when meanflow.
  ConditionalDecoder(const WeightStore& store, std::string_view prefix,
                     const EstimatorConfig& config, bool meanflow);

  // out f32 [B, mel, T]. Taps (names relative, e.g. "time_emb.t", "down0.resnet.out",
  // "mid3.out"): the caller prefixes them (the solver taps step 0 as "cfm.step0.est.").
  void forward(const ExecContext& ctx, const EstimatorInputs& in, Tensor& out,
               const FlowTap* tap = nullptr) const;
  void pack_bf16(const ExecContext& ctx);  // bf16 GEMM weights (see Linear::pack_bf16)
  // Moves the weights to ctx's CUDA device, the frame-wise matrices (convs, transformer linears)
  // as `dtype` (f32 or bf16), norms and the time MLPs f32. forward then takes device inputs
  // (every EstimatorInputs tensor on the device, taps refused) and gives a device output. Call
  // on a copy to keep a host estimator; InvalidArgument after pack_bf16.
  void to_device(const ExecContext& ctx, DType dtype);
  bool on_device() const { return on_device_; }

  const EstimatorConfig& config() const { return config_; }
  bool meanflow() const { return meanflow_; }

 private:
  // Mish(time embedding) [B, time_embed_dim], the input of every resnet's time MLP.
  Tensor time_embedding(const ExecContext& ctx, const EstimatorInputs& in,
                        const FlowTap* tap) const;
  void transformers(const ExecContext& ctx, const std::vector<layers::TransformerBlock>& blocks,
                    const Tensor& x_nct, const Tensor* key_mask,
                    std::span<const std::int64_t> lengths, Tensor& out_nct, const FlowTap* tap,
                    std::string_view tap_name) const;

  EstimatorConfig config_;
  bool meanflow_ = false;
  bool on_device_ = false;
  layers::Linear time_linear1_, time_linear2_, time_mixer_;
  layers::CausalResnetBlock1D down_resnet_, up_resnet_;
  std::vector<layers::TransformerBlock> down_tf_, up_tf_;
  layers::PaddedConv1d down_conv_, up_conv_;
  std::vector<layers::CausalResnetBlock1D> mid_resnets_;
  std::vector<std::vector<layers::TransformerBlock>> mid_tf_;
  layers::CausalBlock1D final_block_;
  layers::PaddedConv1d final_proj_;
};

}  // namespace chatterd
