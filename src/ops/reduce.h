#pragma once
// Reductions of an f32 tensor over one axis (negative axes count from the end). The axis is
// removed from the output shape unless keepdim. The last axis uses SIMD row kernels.
// max over an empty axis is -inf; argmax needs a non-empty axis and returns i64 indices (the first
// maximum; NaN compares false, so NaN entries are skipped).

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

void sum(const ExecContext& ctx, const Tensor& x, int axis, Tensor& out, bool keepdim = false);
void mean(const ExecContext& ctx, const Tensor& x, int axis, Tensor& out, bool keepdim = false);
void max(const ExecContext& ctx, const Tensor& x, int axis, Tensor& out, bool keepdim = false);
void argmax(const ExecContext& ctx, const Tensor& x, int axis, Tensor& out, bool keepdim = false);

}  // namespace chatterd::ops
