#pragma once
// Bulk dtype conversion of contiguous runs (f16/bf16 <-> f32).

#include <cstdint>

#include "backends/cpu/cpu_features.h"
#include "chatterd/core/half.h"

namespace chatterd::cpu {

struct ConvertKernels {
  void (*f16_to_f32)(const Half* in, float* out, std::int64_t n);
  void (*bf16_to_f32)(const BFloat16* in, float* out, std::int64_t n);
  void (*f32_to_f16)(const float* in, Half* out, std::int64_t n);
  void (*f32_to_bf16)(const float* in, BFloat16* out, std::int64_t n);
};

const ConvertKernels& convert_kernels(CpuIsa isa);

}  // namespace chatterd::cpu
