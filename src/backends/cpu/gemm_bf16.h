#pragma once
// bf16 x bf16 -> f32 matrix-multiply tiles for the vocoder's large-M products (S3Gen encoder and
// estimator linears and convs, HiFT convs: hundreds to thousands of frames a call, compute bound).
// AVX512_BF16's vdpbf16ps does 32 multiply-adds per instruction, twice the f32 FMA rate, so these
// layers run up to 2x faster than f32 sgemm at the cost of rounding activations and weights to
// bf16 (8 mantissa bits; sums stay f32). Debian's OpenBLAS 0.3.21 has no sbgemm, hence our own.
//
// A tile computes up to kGemmRows rows x kPanelCols columns:
//   out[r * kPanelCols + j] = sum_s sum_p a_s,r[2p] * B[s][p][j][0] + a_s,r[2p+1] * B[s][p][j][1]
// - A rows are given by pointers, `segments` runs of `seg_pairs` bf16 pairs per row; the pointer of
//   row r's run s is a[s * kGemmRows + r]. A linear layer has one run per row; a conv has one per
//   kernel tap (each pointing at the shifted input frame: an implicit GEMM, no im2col). Rows at or
//   beyond `rows` are never read.
// - B is one panel of the packed weight: [segments * seg_pairs][kPanelCols][2] bf16, consecutive
//   runs back to back, absent columns zero (PackedBf16Weight below packs it once at load).
// out is overwritten (not accumulated), row stride kPanelCols.

#include <cstdint>

#include "backends/cpu/cpu_features.h"
#include "chatterd/core/half.h"

namespace chatterd::cpu {

inline constexpr int kGemmRows = 8;
inline constexpr int kPanelCols = 32;

using GemmBf16Tile = void (*)(const BFloat16* const* a, int rows, int segments,
                              std::int64_t seg_pairs, const BFloat16* panel, float* out);

// The vdpbf16ps tile when `isa` is AVX-512 and the CPU reports AVX512_BF16 (cpuid, not compile
// flags); null otherwise: callers then keep f32 weights and sgemm.
GemmBf16Tile gemm_bf16_tile_kernel(CpuIsa isa);
// Scalar reference with the same contract (tests).
void gemm_bf16_tile_scalar(const BFloat16* const* a, int rows, int segments, std::int64_t seg_pairs,
                           const BFloat16* panel, float* out);
void gemm_bf16_tile_avx512_bf16(const BFloat16* const* a, int rows, int segments,
                                std::int64_t seg_pairs, const BFloat16* panel, float* out);

// AMX (AMX-BF16 tiles, Sapphire Rapids and later): blocks of 32 rows x kAmxBlockCols columns.
// Row r of segment s is read at a[s] + r * a_stride (bf16 elements) for all 32 rows, so callers
// pad A to whole blocks; seg_pairs must be a multiple of kAmxPairStep (packed weights are). out
// is overwritten, row stride kAmxBlockCols. Call between amx_tiles_begin() and amx_tiles_end()
// on the same thread (ops::Bf16Blocks does): they load and release the tile configuration.
inline constexpr int kAmxBlockRows = 32;
inline constexpr int kAmxBlockCols = kPanelCols;
inline constexpr int kAmxPairStep = 16;
// cpuid reports AMX-BF16 and the kernel granted the tile state to this process (asked once);
// false when CHATTERD_CPU_AMX=0.
bool amx_bf16_available();
void amx_tiles_begin();
void amx_tiles_end();
void gemm_bf16_block_amx(const BFloat16* const* a, std::int64_t a_stride, int segments,
                         std::int64_t seg_pairs, const BFloat16* panel, float* out);

// The implicit-GEMM conv's input: x f32 [channels, frames] (row stride `frames`) ->
// out[t * ldo + c] = bf16(x[c, t]) for c in [c0, c1), t in [t0, t1) (a transpose and rounding in
// one pass). AVX512_BF16 transposes 16 x 16 blocks in registers; the scalar version is the
// reference.
void frames_to_bf16(CpuIsa isa, const float* x, std::int64_t frames, std::int64_t c0,
                    std::int64_t c1, std::int64_t t0, std::int64_t t1, BFloat16* out,
                    std::int64_t ldo);
void frames_to_bf16_scalar(const float* x, std::int64_t frames, std::int64_t c0, std::int64_t c1,
                           std::int64_t t0, std::int64_t t1, BFloat16* out, std::int64_t ldo);
void frames_to_bf16_avx512_bf16(const float* x, std::int64_t frames, std::int64_t c0,
                                std::int64_t c1, std::int64_t t0, std::int64_t t1, BFloat16* out,
                                std::int64_t ldo);

// f32 -> bf16 (round to nearest even) of `rows` rows of `k` values (row stride ldx) into rows of
// stride ldo >= k rounded up to even; the padding element of an odd k is written 0.
void rows_to_bf16(CpuIsa isa, const float* x, std::int64_t rows, std::int64_t k, std::int64_t ldx,
                  BFloat16* out, std::int64_t ldo);

}  // namespace chatterd::cpu
