#pragma once
// LayerNorm over the last axis with affine weight and (optional) bias, f32.

#include <cstdint>
#include <string_view>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd::layers {

class LayerNorm {
 public:
  LayerNorm() = default;
  // Reads "<prefix>.weight" (and "<prefix>.bias" when `bias`).
  LayerNorm(const WeightStore& store, std::string_view prefix, std::int64_t dim, float eps,
            bool bias = true);

  void forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const;
  // Moves the parameters to ctx's CUDA device; forward then takes device tensors.
  void to_device(const ExecContext& ctx);

 private:
  Tensor gamma_;
  Tensor beta_;
  bool has_bias_ = false;
  float eps_ = 1e-5f;
};

}  // namespace chatterd::layers
