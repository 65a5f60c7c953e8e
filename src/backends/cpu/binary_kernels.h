#pragma once
// Elementwise f32 arithmetic over contiguous runs: vector-vector, vector-scalar, scalar-vector.
// `out` may equal either input.

#include <cstdint>

#include "backends/cpu/cpu_features.h"

namespace chatterd::cpu {

enum class BinaryOp { Add = 0, Sub = 1, Mul = 2, Div = 3 };
inline constexpr int kNumBinaryOps = 4;

struct BinaryKernels {
  void (*vv[kNumBinaryOps])(const float* a, const float* b, float* out, std::int64_t n);
  void (*vs[kNumBinaryOps])(const float* a, float b, float* out, std::int64_t n);
  void (*sv[kNumBinaryOps])(float a, const float* b, float* out, std::int64_t n);
};

const BinaryKernels& binary_kernels(CpuIsa isa);

}  // namespace chatterd::cpu
