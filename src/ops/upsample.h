#pragma once
// Nearest-neighbour upsampling of the last axis by an integer factor (F.interpolate(x,
// scale_factor=k, mode="nearest") on [B, C, T]): out[..., t] = x[..., t / k].

#include <cstdint>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

// x f32 [..., T] -> out f32 [..., factor * T]; factor >= 1. out must not alias x.
void upsample_nearest1d(const ExecContext& ctx, const Tensor& x, std::int64_t factor, Tensor& out);

}  // namespace chatterd::ops
