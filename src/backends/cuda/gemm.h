#pragma once
// The prefill/batched path of linear on CUDA: cuBLASLt with f32 accumulation.
//   out[m, n] = x[m, k] . w[n, k] (+ bias[n])
// bf16/f16 weights: x is converted to the weight's type (a scratch block from the context's
// cache) and multiplied on tensor cores; f32 weights: full f32 (no TF32: the f32 path is the one
// checked against the goldens).

#include <cstdint>

#include "chatterd/core/dtype.h"

namespace chatterd::cuda {

class DeviceContext;

void gemm(DeviceContext& ctx, const float* x, std::int64_t m, std::int64_t k, const void* w,
          DType w_dtype, const float* bias, float* out, std::int64_t n);

}  // namespace chatterd::cuda
