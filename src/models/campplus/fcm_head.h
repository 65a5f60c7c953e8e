#pragma once
// CAMPPlus FCM head (reference xvector.py FCM/BasicResBlock): the (feat_dim, T) fbank treated as
// a one-channel image (height = frequency, width = time). Conv2d 3x3 + BN + ReLU, two layers of
// residual blocks whose first block strides (2, 1) on frequency, a last (2, 1)-strided conv + BN
// + ReLU, then the channels and the remaining feat_dim/8 frequency rows flatten into
// m_channels * feat_dim/8 TDNN input channels. Every BatchNorm is folded into its conv at load.

#include <cstdint>
#include <string>
#include <vector>

#include "chatterd/core/tensor.h"
#include "models/campplus/campplus_config.h"
#include "ops/conv2d.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd {

// A conv (no bias in the checkpoint) with the following eval BatchNorm folded in.
struct FoldedConv2d {
  Tensor weight;  // owned f32 [out, in, k, k]
  Tensor bias;    // f32 [out] (the BatchNorm shift)
  ops::Conv2dOptions options;

  FoldedConv2d() = default;
  FoldedConv2d(const WeightStore& store, const std::string& conv, const std::string& bn,
               std::int64_t out, std::int64_t in, std::int64_t k, std::int64_t stride_h, float eps);
  void forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const;
};

class FcmHead {
 public:
  FcmHead() = default;
  FcmHead(const WeightStore& store, const CampPlusConfig& config, const std::string& prefix);

  // feats: f32 (feat_dim, T) -> f32 (m_channels * feat_dim/8 rows... exactly m * H_final, T).
  Tensor forward(const ExecContext& ctx, const Tensor& feats) const;
  std::int64_t out_channels() const { return out_channels_; }

 private:
  struct ResBlock {
    FoldedConv2d conv1;
    FoldedConv2d conv2;
    bool has_shortcut = false;
    FoldedConv2d shortcut;
  };
  FoldedConv2d conv1_;
  std::vector<ResBlock> blocks_;  // layer1 then layer2
  FoldedConv2d conv2_;
  std::int64_t feat_dim_ = 0;
  std::int64_t out_channels_ = 0;
};

}  // namespace chatterd
