#pragma once
// 1-D transposed convolution (PyTorch ConvTranspose1d semantics).

#include <cstdint>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

struct ConvTranspose1dOptions {
  std::int64_t stride = 1;
  std::int64_t padding = 0;         // cropped from both ends
  std::int64_t output_padding = 0;  // extra samples at the end; < stride or < dilation
  std::int64_t dilation = 1;
  std::int64_t groups = 1;
};

// (T - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1
std::int64_t conv_transpose1d_output_length(std::int64_t length, std::int64_t kernel_size,
                                            const ConvTranspose1dOptions& options);

// x: f32 [B, C_in, T]; w: f32 [C_in, C_out / groups, K] (PyTorch layout); bias: f32 [C_out] or
// null; out: f32 [B, C_out, T_out] (resized). Per (batch, group, block of 16 output channels):
// sgemm W^T.x into a column buffer per time tile, then col2im scatter-add into the output.
void conv_transpose1d(const ExecContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
                      const ConvTranspose1dOptions& options, Tensor& out);

}  // namespace chatterd::ops
