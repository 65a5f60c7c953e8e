#pragma once
// CAMPPlus x-vector speaker encoder (reference models/s3gen/xvector.py, eval mode): S3Gen's prompt
// `embedding`. fbank (T, feat_dim) (Kaldi fbank minus its per-bin mean, made in src/audio/)
//   -> FCM head (fcm_head.h) -> TDNN (conv k5 s2 + BN + ReLU)
//   -> dense blocks of CAM layers, each followed by a transit layer halving the channels
//   -> BN + ReLU -> stats pooling (mean, unbiased std) -> 1x1 conv + BN(affine=False).
// Every BatchNorm that directly follows a convolution is folded into it at load; the ones that
// precede a convolution (BN-ReLU-conv) run as per-channel affine maps.

#include <cstdint>
#include <string>
#include <vector>

#include "chatterd/core/tensor.h"
#include "layers/batch_norm.h"
#include "models/campplus/campplus_config.h"
#include "models/campplus/fcm_head.h"
#include "ops/conv1d.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd {

// CAMLayer context pooling: per channel of x f32 [C, T], the average of each segment of seg_len
// frames, the last (partial) one over its valid frames only (avg_pool1d k = s = seg_len,
// ceil_mode). out: f32 [C, ceil(T / seg_len)] (resized).
void campplus_segment_means(const Tensor& x, std::int64_t seg_len, Tensor& out);

// Stats pooling of x f32 [C, T] (T >= 2): out f32 [2C] = [mean over T, unbiased std over T].
void campplus_stats_pool(const Tensor& x, Tensor& out);

inline constexpr std::int64_t kCamSegmentLength = 100;

class CampPlus {
 public:
  // Reads `<prefix>head.*` and `<prefix>xvector.*`; prefix "speaker_encoder." in s3gen files.
  CampPlus(const WeightStore& store, const CampPlusConfig& config,
           std::string_view prefix = "speaker_encoder.");

  const CampPlusConfig& config() const { return config_; }

  // fbank: f32 (T, feat_dim) or (1, T, feat_dim) -> x-vector f32 (1, embedding_size).
  // T must give at least 2 frames after the stride-2 TDNN (T >= 3); throws InvalidArgument else.
  Tensor embed(const ExecContext& ctx, const Tensor& fbank) const;

 private:
  struct Conv {  // conv1d weight (owned when folded) + optional bias
    Tensor weight;
    Tensor bias;
    ops::Conv1dOptions options;
  };
  struct DenseLayer {
    layers::BatchNorm bn1;  // nonlinear1 (before linear1)
    Conv linear1;           // 1x1, nonlinear2's BN folded in (ReLU after)
    Conv local;             // CAM linear_local (k, dilation, no bias)
    Conv ctx1;              // CAM linear1 (1x1, bias) -> ReLU
    Conv ctx2;              // CAM linear2 (1x1, bias) -> sigmoid
  };
  struct Block {
    std::int64_t in_channels = 0;
    std::vector<DenseLayer> layers;
    layers::BatchNorm transit_bn;
    Conv transit;  // 1x1, no bias
  };

  void conv(const ExecContext& ctx, const Conv& c, const Tensor& x, Tensor& out) const;
  void dense_layer(const ExecContext& ctx, const DenseLayer& l, const Tensor& x, Tensor& out,
                   Tensor& scratch_a, Tensor& scratch_b) const;

  CampPlusConfig config_;
  FcmHead head_;
  Conv tdnn_;  // BN folded, ReLU after
  std::vector<Block> blocks_;
  layers::BatchNorm out_bn_;  // out_nonlinear (ReLU after)
  Conv dense_;                // 1x1 with the affine-free BN folded in
};

}  // namespace chatterd
