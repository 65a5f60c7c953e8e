#pragma once
// Which SIMD instruction set the CPU kernels use. Detected once;
// CHATTERD_CPU_ISA=scalar|avx2|avx512 may force a lower one (diagnostics and tests; see
// docs/environment_variables.md).

#include <string_view>
#include <vector>

namespace chatterd::cpu {

enum class CpuIsa { Scalar, Avx2, Avx512 };

std::string_view isa_name(CpuIsa isa);
// Highest ISA this CPU supports (AVX2 needs FMA+F16C; AVX-512 needs F/BW/VL/DQ).
CpuIsa detect_isa();
// The ISA kernels use by default: detect_isa(), lowered by CHATTERD_CPU_ISA if set.
CpuIsa default_isa();
// How far ahead of the weight stream the quantised GEMV kernels prefetch: the hardware prefetchers
// alone left the int4 T3 step at ~55% of its DRAM floor; 1-8 KB all did about as well, 512 B less.
inline constexpr int kWeightPrefetchBytes = 4096;

// Whether the CPU has AVX512-VNNI (cpuid, read once; independent of CHATTERD_CPU_ISA).
bool cpu_has_avx512_vnni();
// Whether the CPU has AVX512_BF16 (cpuid, read once; independent of CHATTERD_CPU_ISA).
bool cpu_has_avx512_bf16();
// Every ISA this machine can run, lowest first (tests run each).
std::vector<CpuIsa> supported_isas();

}  // namespace chatterd::cpu
