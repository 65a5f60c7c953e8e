#pragma once
// 2-D convolution, PyTorch Conv2d semantics (zero padding, no groups, no dilation): used by the
// CAMPPlus FCM head, which treats a (freq, time) feature map as an image.

#include <cstdint>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

struct Conv2dOptions {
  std::int64_t stride_h = 1;
  std::int64_t stride_w = 1;
  std::int64_t pad_h = 0;  // zeros on both sides of H
  std::int64_t pad_w = 0;  // zeros on both sides of W
};

// floor((n + 2 pad - k) / stride) + 1; throws ShapeError when the kernel exceeds the padded input.
std::int64_t conv2d_output_size(std::int64_t n, std::int64_t kernel, std::int64_t stride,
                                std::int64_t pad);

// x: f32 [B, C_in, H, W]; w: f32 [C_out, C_in, KH, KW]; bias: f32 [C_out] or null;
// out: f32 [B, C_out, H_out, W_out] (resized; must not alias x).
// Per output row (parallel over rows): im2col of that row into [C_in*KH*KW, W_out] and one sgemm
// with the weight, written straight into the output plane (ldc = H_out * W_out).
void conv2d(const ExecContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
            const Conv2dOptions& options, Tensor& out);

}  // namespace chatterd::ops
