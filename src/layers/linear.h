#pragma once
// y = x W^T + b (nn.Linear, weight [out, in]) or y = x W + b (GPT-2 Conv1D, weight [in, out]).
// Borrows its weight from the WeightStore as stored (f32/f16/bf16/q8_0) unless convert_weight
// replaces it; the bias is f32.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"
#include "ops/gemm_bf16.h"
#include "ops/linear.h"
#include "ops/linear_q8.h"
#include "weights/weight_store.h"

namespace chatterd::layers {

class Linear {
 public:
  Linear() = default;
  // Reads "<prefix>.weight" (and "<prefix>.bias" when `bias`).
  Linear(const WeightStore& store, std::string_view prefix, std::int64_t in, std::int64_t out,
         bool bias, ops::WeightLayout layout = ops::WeightLayout::OutIn);

  // Replaces the weight by an owned copy in `dtype` (f32, f16, bf16, q8_0 or q4_0), once at load.
  // q8_0 is held row-packed (ops/linear_q8.h) where the CPU has AVX512-VNNI and in % 64 == 0;
  // q4_0 always row-packed, and needs in % 128 == 0 (else the weight becomes q8_0).
  // bf16 and q8_0 are also laid out [out, in] (GPT-2 Conv1D weights are transposed) because
  // their fast decode kernels (vdpbf16ps, int8 dot products) run along the input dimension.
  // q8_0 needs in % 32 == 0; a weight that does not qualify is converted to bf16 instead
  // (returns the dtype actually used). A weight already in `dtype` is kept as it is.
  DType convert_weight(const ExecContext& ctx, DType dtype);
  // Packs the weight for the bf16 GEMM tile and drops the original (the vocoder's bf16 path:
  // layers that see hundreds of rows a call). A no-op where the CPU lacks AVX512_BF16 (returns
  // false then).
  bool pack_bf16(const ExecContext& ctx);

  // Moves the layer to ctx's CUDA device, the weight as `dtype` (bf16, f16 or f32) "out x in"
  // (converted and transposed here once), the bias f32; forward then takes device tensors. Throws
  // InvalidArgument for a weight already packed for a CPU kernel.
  void to_device(const ExecContext& ctx, DType dtype = DType::BF16);

  // x [..., in] f32 -> out [..., out] f32
  void forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const;

  std::int64_t in_features() const { return in_; }
  std::int64_t out_features() const { return out_; }
  // Bytes the weight occupies as held (packed forms included): what a decode step reads.
  std::size_t weight_bytes() const;
  // The weight as held, or an undefined tensor once packed (pack_bf16, row-packed q8_0).
  const Tensor& weight() const { return weight_; }
  ops::WeightLayout layout() const { return layout_; }

 private:
  Tensor weight_;
  ops::PackedBf16Weight packed_;  // replaces weight_ once pack_bf16 ran
  ops::PackedQuantWeight rows_;   // replaces a q8_0 or q4_0 weight_ (convert_weight)
  Tensor bias_;
  bool has_bias_ = false;
  ops::WeightLayout layout_ = ops::WeightLayout::OutIn;
  std::int64_t in_ = 0;
  std::int64_t out_ = 0;
};

}  // namespace chatterd::layers
