#include "backends/cpu/gemm_bf16.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "backends/cpu/convert_kernels.h"

namespace chatterd::cpu {
namespace {

// CPUID.(EAX=7,ECX=0):EDX bit 22 = AMX-BF16, bit 24 = AMX-TILE.
bool cpu_has_amx_bf16() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
  return (d & (1u << 22)) != 0 && (d & (1u << 24)) != 0;
}

// Linux keeps the 8 KiB tile state off until a process asks (arch_prctl ARCH_REQ_XCOMP_PERM for
// XFEATURE_XTILEDATA); the grant covers every thread of the process.
bool request_amx_permission() {
#if defined(__linux__)
  constexpr int kArchReqXcompPerm = 0x1023;
  constexpr int kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

}  // namespace

bool amx_bf16_available() {
  static const bool available = [] {
    const char* env = std::getenv("CHATTERD_CPU_AMX");
    if (env != nullptr && std::string_view(env) == "0") return false;
    return detect_isa() >= CpuIsa::Avx512 && cpu_has_avx512_bf16() && cpu_has_amx_bf16() &&
           request_amx_permission();
  }();
  return available;
}

GemmBf16Tile gemm_bf16_tile_kernel(CpuIsa isa) {
  static const bool has_bf16 = detect_isa() >= CpuIsa::Avx512 && cpu_has_avx512_bf16();
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

void frames_to_bf16_scalar(const float* x, std::int64_t frames, std::int64_t c0, std::int64_t c1,
                           std::int64_t t0, std::int64_t t1, BFloat16* out, std::int64_t ldo) {
  for (std::int64_t t = t0; t < t1; ++t) {
    for (std::int64_t c = c0; c < c1; ++c) out[t * ldo + c] = float_to_bf16(x[c * frames + t]);
  }
}

void frames_to_bf16(CpuIsa isa, const float* x, std::int64_t frames, std::int64_t c0,
                    std::int64_t c1, std::int64_t t0, std::int64_t t1, BFloat16* out,
                    std::int64_t ldo) {
  if (gemm_bf16_tile_kernel(isa) != nullptr) {
    return frames_to_bf16_avx512_bf16(x, frames, c0, c1, t0, t1, out, ldo);
  }
  frames_to_bf16_scalar(x, frames, c0, c1, t0, t1, out, ldo);
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
