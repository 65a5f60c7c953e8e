#pragma once
// Matrix-vector kernels for the linear op's decode path (few input rows, memory-bandwidth bound):
// the weight is streamed once and every input row is multiplied against it, accumulating in f32.
// Weights are f32, f16, bf16 or q8_0. Two layouts:
//   dot_*  : w is [n, k] (nn.Linear "out x in"): y[i, r] = sum_j x[i, j] * w[r, j]
//   axpy_* : w is [k, n] (GPT-2 Conv1D "in x out"): y[i, c] = sum_j x[i, j] * w[j, c]
// x is [m, k] contiguous; y has row stride ldy. Each call computes only the output features
// [begin, end) so callers can split them across threads. y is overwritten, never accumulated.
// Also the q8_0 dequantiser used by the prefill path (which converts weight tiles to f32 for
// sgemm).

#include <cstdint>

#include "backends/cpu/cpu_features.h"
#include "chatterd/core/dtype.h"
#include "chatterd/core/half.h"

namespace chatterd::cpu {

template <class W>
using DotKernel = void (*)(const float* x, std::int64_t m, std::int64_t k, const W* w,
                           std::int64_t begin, std::int64_t end, float* y, std::int64_t ldy);
// For q8_0, w points at block rows ([n, k/32] blocks for dot, [k, n/32] for axpy) and for axpy
// `begin` and `end` must be multiples of kQ8BlockSize (or end == n).
template <class W>
using AxpyKernel = void (*)(const float* x, std::int64_t m, std::int64_t k, const W* w,
                            std::int64_t n, std::int64_t begin, std::int64_t end, float* y,
                            std::int64_t ldy);

struct LinearKernels {
  DotKernel<float> dot_f32;
  DotKernel<Half> dot_f16;
  DotKernel<BFloat16> dot_bf16;
  DotKernel<BlockQ8> dot_q8_0;  // k % kQ8BlockSize == 0
  AxpyKernel<float> axpy_f32;
  AxpyKernel<Half> axpy_f16;
  AxpyKernel<BFloat16> axpy_bf16;
  AxpyKernel<BlockQ8> axpy_q8_0;  // n % kQ8BlockSize == 0
  void (*q8_0_to_f32)(const BlockQ8* in, float* out, std::int64_t n_blocks);
};

const LinearKernels& linear_kernels(CpuIsa isa);

}  // namespace chatterd::cpu
