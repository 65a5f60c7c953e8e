#pragma once
// HiFT's convolution stack, from conv_pre to conv_post: per stage leaky_relu, the transposed
// upsampling conv (+ a 1-sample left reflection pad at the last stage), the source branch
// (source_downs + source ResBlock) added, the mean of the ResBlocks; then leaky_relu(0.01) and
// conv_post. It runs on the host or, after to_device, on a CUDA device: the heavy part of HiFT
// (everything but the f0 predictor, the harmonic source and the tiny STFTs).

#include <string>
#include <vector>

#include "chatterd/core/tensor.h"
#include "models/hift/hift_conv.h"
#include "models/hift/hift_resblock.h"
#include "models/s3gen/s3gen_config.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd::hift {

struct HiftTrace;

class HiftDecoderStack {
 public:
  HiftDecoderStack() = default;
  // Reads "<prefix>{conv_pre,ups.N,source_downs.N,source_resblocks.N,resblocks.N,conv_post}.*".
  HiftDecoderStack(const WeightStore& store, const HiftConfig& config, const std::string& prefix);

  // mel [1, in_channels, F] + the source STFT [1, n_fft + 2, frames] -> conv_post's output
  // [1, n_fft + 2, frames] (log magnitudes then phases), on the inputs' device. Traces (host
  // only) get the golden names "hift.conv_pre.out", "hift.ups.N.in", ...
  void forward(const ExecContext& ctx, const HiftConfig& config, const Tensor& mel,
               const Tensor& s_stft, Tensor& out, HiftTrace* trace = nullptr) const;
  // bf16 GEMM weights for the Conv1d layers (see Hift::pack_bf16).
  void pack_bf16(const ExecContext& ctx);
  // To ctx's CUDA device: Conv1d matrices as `dtype` (f32 or bf16), the transposed convs, biases
  // and Snake alphas f32. InvalidArgument after pack_bf16.
  void to_device(const ExecContext& ctx, DType dtype);

 private:
  Conv1dLayer conv_pre_;
  std::vector<ConvTranspose1dLayer> ups_;
  std::vector<Conv1dLayer> source_downs_;
  std::vector<HiftResBlock> source_resblocks_;
  std::vector<HiftResBlock> resblocks_;  // stage i uses [i * K, (i + 1) * K)
  Conv1dLayer conv_post_;
  Tensor resblock_count_;  // f32 [1] = K where the activations live (the mean's divisor)
};

}  // namespace chatterd::hift
