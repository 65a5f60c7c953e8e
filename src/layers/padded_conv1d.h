#pragma once
// nn.Conv1d (weight [out, in, k], optional bias) with a fixed zero padding on each side, which
// covers S3Gen's CausalConv1d (left k-1), the PreLookaheadLayer convs (right 3 / left 2), the
// Upsample1D conv (left 4) and plain unpadded 1x1 convs.

#include <cstdint>
#include <string_view>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"
#include "ops/gemm_bf16.h"
#include "weights/weight_store.h"

namespace chatterd::layers {

class PaddedConv1d {
 public:
  PaddedConv1d() = default;
  // Reads "<prefix>.weight" [out, in, kernel] and "<prefix>.bias" [out] when `bias`.
  PaddedConv1d(const WeightStore& store, std::string_view prefix, std::int64_t in, std::int64_t out,
               std::int64_t kernel, std::int64_t pad_left, std::int64_t pad_right,
               bool bias = true);

  // x [B, in, T] -> out [B, out, T + pad_left + pad_right - kernel + 1]
  void forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const;
  // Packs the weight for the bf16 GEMM tile (see Linear::pack_bf16).
  bool pack_bf16(const ExecContext& ctx);
  // Moves the layer to ctx's CUDA device, the weight as `dtype` (f32, bf16 or f16), the bias f32;
  // forward then takes device tensors. InvalidArgument once packed for the CPU tile.
  void to_device(const ExecContext& ctx, DType dtype);

  std::int64_t in_channels() const { return in_; }
  std::int64_t out_channels() const { return out_; }

 private:
  Tensor weight_;
  ops::PackedBf16Weight packed_;  // replaces weight_ once pack_bf16 ran
  Tensor bias_;
  bool has_bias_ = false;
  std::int64_t in_ = 0;
  std::int64_t out_ = 0;
  std::int64_t pad_left_ = 0;
  std::int64_t pad_right_ = 0;
};

}  // namespace chatterd::layers
