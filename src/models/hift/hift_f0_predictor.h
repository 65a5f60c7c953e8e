#pragma once
// ConvRNNF0Predictor: N x [weight-normed Conv1d k3 "same", ELU], Linear(C -> 1), abs -> f0 in Hz
// per mel frame.

#include <cstdint>
#include <string_view>
#include <vector>

#include "chatterd/core/tensor.h"
#include "models/hift/hift_conv.h"
#include "models/s3gen/s3gen_config.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd::hift {

class HiftF0Predictor {
 public:
  HiftF0Predictor() = default;
  // Reads "<prefix>f0_predictor.condnet.{0,2,..}.*" and "<prefix>f0_predictor.classifier.*".
  HiftF0Predictor(const WeightStore& store, std::string_view prefix, const HiftConfig& config);

  // mel f32 [1, in_channels, F] -> f0 f32 [1, F] (>= 0).
  void forward(const ExecContext& ctx, const Tensor& mel, Tensor& f0) const;

 private:
  std::vector<Conv1dLayer> convs_;
  Tensor classifier_weight_;  // [1, C]
  Tensor classifier_bias_;    // [1]
};

}  // namespace chatterd::hift
