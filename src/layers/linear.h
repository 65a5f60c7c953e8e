#pragma once
// y = x W^T + b (nn.Linear, weight [out, in]) or y = x W + b (GPT-2 Conv1D, weight [in, out]).
// Borrows its weight from the WeightStore as stored (f32/f16/bf16/q8_0) unless convert_weight
// replaces it; the bias is f32.

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

  // Replaces the weight by an owned copy in `dtype` (f32, f16, bf16 or q8_0), once at load.
  // bf16 and q8_0 are also laid out [out, in] (GPT-2 Conv1D weights are transposed) because
  // their fast decode kernels (vdpbf16ps, int8 dot products) run along the input dimension.
  // q8_0 needs in % 32 == 0; a weight that does not qualify is converted to bf16 instead
  // (returns the dtype actually used). A weight already in `dtype` is kept as it is.
  DType convert_weight(const ExecContext& ctx, DType dtype);

  // x [..., in] f32 -> out [..., out] f32
  void forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const;

  std::int64_t in_features() const { return in_; }
  std::int64_t out_features() const { return out_; }
  const Tensor& weight() const { return weight_; }
  ops::WeightLayout layout() const { return layout_; }

 private:
  Tensor weight_;
  Tensor bias_;
  bool has_bias_ = false;
  ops::WeightLayout layout_ = ops::WeightLayout::OutIn;
  std::int64_t in_ = 0;
  std::int64_t out_ = 0;
};

}  // namespace chatterd::layers
