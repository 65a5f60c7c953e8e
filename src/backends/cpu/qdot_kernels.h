#pragma once
// Matrix-vector kernels for reduced-precision weights whose activation is prepared once per call
// (the T3 decode step; see ops/linear.cc):
//  - q8_0 x q8_0: the activation rows are quantised to q8_0 blocks (the weight's block size, 32),
//    so each block is an exact int32 dot product scaled by x_scale * w_scale. Weight [n, k/32]
//    blocks ("out x in"), activation [m, k/32] blocks; k % 32 == 0.
//  - bf16 split (AVX512_BF16 vdpbf16ps): the f32 activation is split into three bf16 parts
//    (x = hi + mid + lo exactly: 3 x 8 mantissa bits, outside the denormal range) and each is
//    dotted with the bf16 weight, so the result is f32 x times bf16 w accumulated in f32 like the
//    shift-convert kernels, not a product with a bf16-rounded x. Not used by ops::linear: on
//    Zen 4 the T3 decode step ran 1.5x slower with it than with the AVX-512 shift-convert
//    kernel (three vdpbf16ps and six activation loads per 32 weights); kept, tested, for CPUs
//    and shapes where it wins.
// Each call computes output features [begin, end) of y (row stride ldy), overwriting them.
//
// Variants are chosen at run time from cpuid (never from compile flags): the best variant for an
// ISA is used unless the CPU lacks its extension (VNNI, BF16).

#include <cstdint>
#include <span>
#include <string_view>

#include "backends/cpu/cpu_features.h"
#include "chatterd/core/dtype.h"
#include "chatterd/core/half.h"

namespace chatterd::cpu {

using DotQ8Q8Kernel = void (*)(const BlockQ8* xq, std::int64_t m, std::int64_t k, const BlockQ8* w,
                               std::int64_t begin, std::int64_t end, float* y, std::int64_t ldy);
// x_parts: [3, m, k] bf16 (hi, mid, lo of split_bf16).
using DotBf16SplitKernel = void (*)(const BFloat16* x_parts, std::int64_t m, std::int64_t k,
                                    const BFloat16* w, std::int64_t begin, std::int64_t end,
                                    float* y, std::int64_t ldy);

struct QDotVariant {
  std::string_view name;  // "scalar", "avx2", "avx512_vnni", ...
  CpuIsa isa;             // lowest ISA level it belongs to
  DotQ8Q8Kernel dot_q8_q8 = nullptr;
  DotBf16SplitKernel dot_bf16_split = nullptr;  // only avx512_bf16
};

// Every variant this CPU can run, scalar first (tests compare each against scalar).
std::span<const QDotVariant> qdot_variants();
// The fastest q8 x q8 kernel at or below `isa` on this CPU.
DotQ8Q8Kernel dot_q8_q8_kernel(CpuIsa isa);
// vdpbf16ps kernel when isa is AVX-512 and the CPU has AVX512_BF16; null otherwise (callers then
// use LinearKernels::dot_bf16).
DotBf16SplitKernel dot_bf16_split_kernel(CpuIsa isa);

// Scalar reference pieces shared by the op and the tests.
// Quantises n_blocks * 32 floats to q8_0 (scale = absmax / 127, codes rounded half away from
// zero; an all-zero block gets scale 0). Values must be finite.
void quantize_row_q8_0(const float* x, BlockQ8* out, std::int64_t n_blocks);
// parts [3, n]: hi = bf16(x) (nearest even), mid = bf16(x - hi), lo = bf16(x - hi - mid).
void split_bf16(const float* x, BFloat16* parts, std::int64_t n);

// Per-ISA entry points (qdot_{scalar,avx2,avx512}.cc).
void dot_q8_q8_scalar(const BlockQ8* xq, std::int64_t m, std::int64_t k, const BlockQ8* w,
                      std::int64_t begin, std::int64_t end, float* y, std::int64_t ldy);
void dot_q8_q8_avx2(const BlockQ8* xq, std::int64_t m, std::int64_t k, const BlockQ8* w,
                    std::int64_t begin, std::int64_t end, float* y, std::int64_t ldy);
void dot_q8_q8_avx512_vnni(const BlockQ8* xq, std::int64_t m, std::int64_t k, const BlockQ8* w,
                           std::int64_t begin, std::int64_t end, float* y, std::int64_t ldy);
void dot_bf16_split_avx512_bf16(const BFloat16* x_parts, std::int64_t m, std::int64_t k,
                                const BFloat16* w, std::int64_t begin, std::int64_t end, float* y,
                                std::int64_t ldy);

}  // namespace chatterd::cpu
