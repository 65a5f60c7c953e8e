#pragma once
// 1-D convolution (PyTorch Conv1d semantics, zero padding that may differ left/right) and 1-D
// padding of the last axis.

#include <cstdint>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

struct Conv1dOptions {
  std::int64_t stride = 1;
  std::int64_t dilation = 1;
  std::int64_t groups = 1;
  std::int64_t pad_left = 0;  // causal conv: (kernel_size - 1) * dilation, pad_right = 0
  std::int64_t pad_right = 0;
};

// floor((T + pad_left + pad_right - dilation * (K - 1) - 1) / stride) + 1; throws ShapeError when
// the dilated kernel is longer than the padded input.
std::int64_t conv1d_output_length(std::int64_t length, std::int64_t kernel_size,
                                  const Conv1dOptions& options);

// x: f32 [B, C_in, T]; w: f32 [C_out, C_in / groups, K]; bias: f32 [C_out] or null;
// out: f32 [B, C_out, T_out] (resized).
// groups == C_in == C_out (depthwise): direct loops. Otherwise per (batch, group, time tile):
// im2col into a [C_in/groups * K, 256] scratch and sgemm (1x1 stride-1 unpadded convs skip the
// im2col and hand x to sgemm directly).
void conv1d(const ExecContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
            const Conv1dOptions& options, Tensor& out);

enum class PadMode {
  Zero,
  Reflect,    // PyTorch 'reflect' (edge not repeated); needs pad < T
  Replicate,  // repeat the edge value; needs T >= 1
};

// Pads the last axis of x (f32, any rank >= 1): out [..., left + T + right] (resized).
void pad1d(const ExecContext& ctx, const Tensor& x, std::int64_t left, std::int64_t right,
           PadMode mode, Tensor& out);

}  // namespace chatterd::ops
