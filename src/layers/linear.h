#pragma once
// y = x W^T + b (nn.Linear, weight [out, in]) or y = x W + b (GPT-2 Conv1D, weight [in, out]).
// Borrows its weight from the WeightStore as stored (f32/f16/bf16/q8_0); the bias is f32.

#include <cstdint>
#include <string_view>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"
#include "ops/linear.h"
#include "weights/weight_store.h"

namespace chatterd::layers {

class Linear {
 public:
  Linear() = default;
  // Reads "<prefix>.weight" (and "<prefix>.bias" when `bias`).
  Linear(const WeightStore& store, std::string_view prefix, std::int64_t in, std::int64_t out,
         bool bias, ops::WeightLayout layout = ops::WeightLayout::OutIn);

  // x [..., in] f32 -> out [..., out] f32
  void forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const;

  std::int64_t in_features() const { return in_; }
  std::int64_t out_features() const { return out_; }
  const Tensor& weight() const { return weight_; }

 private:
  Tensor weight_;
  Tensor bias_;
  bool has_bias_ = false;
  ops::WeightLayout layout_ = ops::WeightLayout::OutIn;
  std::int64_t in_ = 0;
  std::int64_t out_ = 0;
};

}  // namespace chatterd::layers
