#pragma once
// embedding: out[..., :] = table[ids[...], :] as f32. table: [V, D] f32, f16 or bf16; ids: i32 or
// i64 of any shape; out: ids.shape + [D]. An id outside [0, V) throws InvalidArgument naming it.

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

void embedding(const ExecContext& ctx, const Tensor& table, const Tensor& ids, Tensor& out);

}  // namespace chatterd::ops
