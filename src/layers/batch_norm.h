#pragma once
// Eval-mode BatchNorm (1-D or 2-D) reduced at load to a per-channel affine map
//   y = x * scale + shift,  scale = gamma / sqrt(running_var + eps),  shift = beta - mean * scale
// (gamma = 1, beta = 0 when affine = false). When a convolution without a non-linearity in
// between precedes it, fold_into() moves the map into that convolution's weights instead.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd::layers {

class BatchNorm {
 public:
  BatchNorm() = default;
  // Reads "<prefix>.running_mean", ".running_var" and, when `affine`, ".weight" and ".bias".
  BatchNorm(const WeightStore& store, std::string_view prefix, std::int64_t channels, float eps,
            bool affine = true);
  // From the statistics directly (tests). gamma/beta empty = not affine.
  static BatchNorm from_stats(std::span<const float> mean, std::span<const float> var,
                              std::span<const float> gamma, std::span<const float> beta, float eps);

  std::int64_t channels() const { return static_cast<std::int64_t>(scale_.size()); }
  const std::vector<float>& scale() const { return scale_; }
  const std::vector<float>& shift() const { return shift_; }

  // x: f32 [C, N] or [B, C, N...] (channel axis 0 for rank 2, else 1); out resized (may be x).
  // `relu`: apply max(., 0) afterwards (the "batchnorm-relu" pairs of CAMPPlus).
  void forward(const ExecContext& ctx, const Tensor& x, Tensor& out, bool relu = false) const;

  // Folds this map into a preceding convolution: weight f32 [C, ...] (rows scaled in place; pass
  // an owned copy), bias f32 [C] (resized; the old values are used when it is already [C]).
  void fold_into(Tensor& weight, Tensor& bias) const;

 private:
  std::vector<float> scale_;
  std::vector<float> shift_;
};

}  // namespace chatterd::layers
