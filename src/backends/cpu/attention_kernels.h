#pragma once
// Row primitives for attention (and the other ops that need a dot product or a softmax on a
// contiguous f32 run). A kernel family: see isa_table.h.

#include <cstdint>

#include "backends/cpu/cpu_features.h"
#include "chatterd/core/half.h"

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
  // One run of keys against one query (decode attention): out[j] = scale * (q . k_j) for j < n,
  // key j (d values) at k + j * stride. Storage f32 or f16 (the KV cache's dtype).
  void (*scores_f32)(const float* q, const float* k, std::int64_t n, std::int64_t d,
                     std::int64_t stride, float scale, float* out);
  void (*scores_f16)(const float* q, const Half* k, std::int64_t n, std::int64_t d,
                     std::int64_t stride, float scale, float* out);
  // out[0..d) += sum_j p[j] * v_j for j < n, value j at v + j * stride; the output row stays in
  // registers across the run (4 vector widths per pass).
  void (*accum_f32)(const float* p, const float* v, std::int64_t n, std::int64_t d,
                    std::int64_t stride, float* out);
  void (*accum_f16)(const float* p, const Half* v, std::int64_t n, std::int64_t d,
                    std::int64_t stride, float* out);
};

const AttentionKernels& attention_kernels(CpuIsa isa);

}  // namespace chatterd::cpu
