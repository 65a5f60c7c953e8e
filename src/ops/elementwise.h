#pragma once
// f32 add / sub / mul / div with NumPy broadcasting (shapes aligned on the right; a dimension of
// size 1 or a missing one stretches). out gets the broadcast shape. out may be one of the inputs
// when that input already has the broadcast shape (in place); if it has another shape the result
// is computed aside and then replaces it. out must not otherwise overlap an input.

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

void add(const ExecContext& ctx, const Tensor& a, const Tensor& b, Tensor& out);
void sub(const ExecContext& ctx, const Tensor& a, const Tensor& b, Tensor& out);
void mul(const ExecContext& ctx, const Tensor& a, const Tensor& b, Tensor& out);
void div(const ExecContext& ctx, const Tensor& a, const Tensor& b, Tensor& out);

// The broadcast shape of a and b; ShapeError naming `op` when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace chatterd::ops
