#include "backends/cpu/gemm_bf16.h"

#include <algorithm>

#include "backends/cpu/convert_kernels.h"

namespace chatterd::cpu {
namespace {

// cpuid, not compile flags: the binary may run on CPUs without AVX512_BF16.
bool cpu_has_bf16() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") != 0;
}

}  // namespace

GemmBf16Tile gemm_bf16_tile_kernel(CpuIsa isa) {
  static const bool has_bf16 = detect_isa() >= CpuIsa::Avx512 && cpu_has_bf16();
  return isa >= CpuIsa::Avx512 && has_bf16 ? &gemm_bf16_tile_avx512_bf16 : nullptr;
}

void gemm_bf16_tile_scalar(const BFloat16* const* a, int rows, int segments, std::int64_t seg_pairs,
                           const BFloat16* panel, float* out) {
  std::fill(out, out + static_cast<std::int64_t>(kGemmRows) * kPanelCols, 0.0f);
  for (int s = 0; s < segments; ++s) {
    const BFloat16* b = panel + s * seg_pairs * kPanelCols * 2;
    for (int r = 0; r < rows; ++r) {
      const BFloat16* ar = a[s * kGemmRows + r];
      float* o = out + r * kPanelCols;
      for (std::int64_t p = 0; p < seg_pairs; ++p) {
        const float a0 = bf16_to_float(ar[2 * p]);
        const float a1 = bf16_to_float(ar[2 * p + 1]);
        const BFloat16* bp = b + p * kPanelCols * 2;
        for (int j = 0; j < kPanelCols; ++j) {
          o[j] += a0 * bf16_to_float(bp[2 * j]) + a1 * bf16_to_float(bp[2 * j + 1]);
        }
      }
    }
  }
}

void rows_to_bf16(CpuIsa isa, const float* x, std::int64_t rows, std::int64_t k, std::int64_t ldx,
                  BFloat16* out, std::int64_t ldo) {
  const auto& conv = convert_kernels(isa);
  for (std::int64_t i = 0; i < rows; ++i) {
    conv.f32_to_bf16(x + i * ldx, out + i * ldo, k);
    if (k % 2 != 0) out[i * ldo + k] = BFloat16{};
  }
}

}  // namespace chatterd::cpu
