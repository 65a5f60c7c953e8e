#pragma once
// Internal: runs a per-row function over the rows of the last axis, split over the pool.

#include <algorithm>

#include "chatterd/core/tensor.h"
#include "core/check.h"
#include "ops/exec_context.h"

namespace chatterd::ops::detail {

inline constexpr std::int64_t kRowGrainElems = 8192;

// fn(row_index, in_row, out_row)
template <class Fn>
void for_each_row(const ExecContext& ctx, const Tensor& x, Tensor& out, Fn&& fn) {
  const std::int64_t d = x.rank() == 0 ? 1 : x.dim(-1);
  const std::int64_t rows = d == 0 ? 0 : x.numel() / d;
  const float* in = x.data<float>();
  float* o = out.data<float>();
  const std::int64_t grain =
      std::max<std::int64_t>(1, kRowGrainElems / std::max<std::int64_t>(d, 1));
  ctx.parallel_for(rows, grain, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) fn(r, in + r * d, o + r * d, d);
  });
}

inline void check_f32_input(const Tensor& x, const char* op) {
  CHATTERD_CHECK(x.dtype() == DType::F32, DTypeError, "{}: x must be f32, got {}", op,
                 x.to_string());
}

}  // namespace chatterd::ops::detail
