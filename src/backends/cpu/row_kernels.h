#pragma once
// Kernels over one contiguous row (the last axis): softmax, norms and reductions.
// `in` may equal `out`.

#include <cstdint>

#include "backends/cpu/cpu_features.h"

namespace chatterd::cpu {

struct RowKernels {
  // A row that is all -inf gives all 0 (softmax) / all -inf (log_softmax): "nothing to attend to".
  void (*softmax)(const float* in, float* out, std::int64_t n);
  void (*log_softmax)(const float* in, float* out, std::int64_t n);
  // (x - mean) / sqrt(var + eps) [* gamma] [+ beta]; gamma and beta may be null. Biased variance.
  void (*layer_norm)(const float* in, const float* gamma, const float* beta, float* out,
                     std::int64_t n, float eps);
  // x / sqrt(mean(x^2) + eps) [* gamma] (Llama: normalise, then multiply by the weight).
  void (*rms_norm)(const float* in, const float* gamma, float* out, std::int64_t n, float eps);
  float (*sum)(const float* in, std::int64_t n);
  float (*max)(const float* in, std::int64_t n);  // -inf for n == 0; NaN lanes are not propagated
};

const RowKernels& row_kernels(CpuIsa isa);

}  // namespace chatterd::cpu
