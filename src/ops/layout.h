#pragma once
// Layout ops producing contiguous copies. They move bytes, so any dtype works (q8_0 only where
// whole blocks move: copy, and slice/concat on an axis other than the last).

#include <span>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

// out = x (same shape and dtype, fresh bytes unless out already has that shape: then written in
// place, e.g. into a view).
void copy(const ExecContext& ctx, const Tensor& x, Tensor& out);
// Elements [start, end) of `axis`; negative start/end count from the end (Python style, clamped).
void slice(const ExecContext& ctx, const Tensor& x, int axis, std::int64_t start, std::int64_t end,
           Tensor& out);
// Joins tensors of equal dtype and shapes equal except along `axis`.
void concat(const ExecContext& ctx, std::span<const Tensor> xs, int axis, Tensor& out);
// out.dim(i) = x.dim(perm[i]).
void permute(const ExecContext& ctx, const Tensor& x, std::span<const int> perm, Tensor& out);
// Swaps two axes.
void transpose(const ExecContext& ctx, const Tensor& x, int axis0, int axis1, Tensor& out);

}  // namespace chatterd::ops
