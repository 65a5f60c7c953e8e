#pragma once
// convert: f32 / f16 / bf16 in any direction (round to nearest even; same dtype copies).
// out may not alias in unless the dtypes match.

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

void convert(const ExecContext& ctx, const Tensor& in, DType dtype, Tensor& out);

}  // namespace chatterd::ops
