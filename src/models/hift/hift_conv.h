#pragma once
// HiFT's convolution layers with weight norm folded at load time. A weight-normed tensor is stored
// as g (original0 / weight_g, shape (dim0, 1, ..., 1)) and v (original1 / weight_v); the effective
// weight is W = v * (g / ||v||), the norm taken over every dim but dim 0. For ConvTranspose1d
// (weight (in, out, k)) dim 0 is the INPUT channel, so the norm runs per input channel.

#include <cstdint>
#include <string_view>

#include "chatterd/core/tensor.h"
#include "ops/conv1d.h"
#include "ops/conv_transpose1d.h"
#include "ops/exec_context.h"
#include "ops/gemm_bf16.h"
#include "weights/weight_store.h"

namespace chatterd::hift {

// W = v * (g / ||v||) with the norm over all dims but 0 (accumulated in double). g holds one value
// per dim-0 slice (any shape with dim(0) entries); v any rank >= 1. Returns an owned f32 tensor of
// v's shape. Throws ShapeError when g does not match v's dim 0.
Tensor fold_weight_norm(const Tensor& g, const Tensor& v);

// Reads the weight of `prefix` with shape `shape`, folding weight norm: accepts
// "<prefix>.parametrizations.weight.original0/1" (torch parametrizations), "<prefix>.weight_g/_v"
// (legacy torch.nn.utils.weight_norm) or a plain "<prefix>.weight" (already folded). Throws
// ModelFormatError (from the store) when none is present or shapes differ.
Tensor load_weight_norm(const WeightStore& store, std::string_view prefix, const Shape& shape);

// Conv1d (out, in, k) with bias, optionally weight-normed.
class Conv1dLayer {
 public:
  Conv1dLayer() = default;
  Conv1dLayer(const WeightStore& store, std::string_view prefix, std::int64_t in, std::int64_t out,
              std::int64_t kernel, const ops::Conv1dOptions& options, bool weight_norm);
  // x [1, in, T] -> out [1, out, T'] (resized)
  void forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const;
  // Packs the folded weight for the bf16 GEMM tile and drops the f32 copy (groups 1 only; false
  // where the CPU lacks AVX512_BF16).
  bool pack_bf16(const ExecContext& ctx);
  // To ctx's CUDA device, the weight as `dtype` (f32, or bf16 with groups 1), the bias f32.
  // InvalidArgument once packed for the CPU tile.
  void to_device(const ExecContext& ctx, DType dtype);
  std::int64_t out_channels() const { return out_; }
  const Tensor& weight() const { return weight_; }  // f32 [out, in, k], folded; empty once packed
  const Tensor& bias() const { return bias_; }      // f32 [out]
  const ops::Conv1dOptions& options() const { return options_; }

 private:
  Tensor weight_;
  ops::PackedBf16Weight packed_;
  Tensor bias_;
  ops::Conv1dOptions options_;
  std::int64_t out_ = 0;
};

// Weight-normed ConvTranspose1d (in, out, k) with bias.
class ConvTranspose1dLayer {
 public:
  ConvTranspose1dLayer() = default;
  ConvTranspose1dLayer(const WeightStore& store, std::string_view prefix, std::int64_t in,
                       std::int64_t out, std::int64_t kernel,
                       const ops::ConvTranspose1dOptions& options);
  void forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const;
  // To ctx's CUDA device (f32: the device's transposed conv is a direct f32 kernel).
  void to_device(const ExecContext& ctx);

 private:
  Tensor weight_;
  Tensor bias_;
  ops::ConvTranspose1dOptions options_;
};

}  // namespace chatterd::hift
