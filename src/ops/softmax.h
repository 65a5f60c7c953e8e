#pragma once
// softmax / log_softmax over the last axis, f32, numerically stable (the row max is subtracted).
// -inf inputs get probability 0. A row that is entirely -inf (a fully masked attention row) gives
// all zeros from softmax and all -inf from log_softmax, rather than PyTorch's NaNs.
// out may be x itself.

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

void softmax(const ExecContext& ctx, const Tensor& x, Tensor& out);
void log_softmax(const ExecContext& ctx, const Tensor& x, Tensor& out);

}  // namespace chatterd::ops
