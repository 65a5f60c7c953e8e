#pragma once
// Row primitives for attention (and the other ops that need a dot product or a softmax on a
// contiguous f32 run). A kernel family: see isa_table.h.

#include <cstdint>

#include "backends/cpu/cpu_features.h"

namespace chatterd::cpu {

struct AttentionKernels {
  // sum_i a[i] * b[i]
  float (*dot)(const float* a, const float* b, std::int64_t n);
  // y[i] += alpha * x[i]
  void (*axpy)(float alpha, const float* x, float* y, std::int64_t n);
  // y[i] *= alpha
  void (*scale)(float* y, float alpha, std::int64_t n);
  // max_i x[i]; -inf for n == 0
  float (*max)(const float* x, std::int64_t n);
  // x[i] = exp(x[i] - m) (exp(-inf) == 0); returns the sum of the new values
  float (*exp_sub_sum)(float* x, float m, std::int64_t n);
};

const AttentionKernels& attention_kernels(CpuIsa isa);

}  // namespace chatterd::cpu
