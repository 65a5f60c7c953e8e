#pragma once
// Int4 matrix-vector kernels over ROW-PACKED q4_0 weights (the T3 decode step with --dtype int4):
// half the bytes of the int8 rows (q8_rows.h), so a memory-bound decode step reads ~0.56 bytes a
// weight instead of ~1.13.
//
// Layout of weight row r: k / 2 bytes of codes, then (in a separate array) k / 32 f16 block
// scales. Codes are u = q + 8 in [0, 15]; per group of 128 codes (64 bytes), byte j holds code j
// in its low nibble and code 64 + j in its high nibble, so one 512-bit load and a mask / shift
// give two 64-code vectors, each lined up with 64 consecutive activation codes (two blocks: the
// pair layout of Q8RowsActivation). k must be a multiple of 128.
//
// The activation side is Q8RowsActivation prepared with weight_zero = 8: vpdpbusd (or, on AVX2,
// maddubs + madd) of the unsigned codes with the s8 activation codes, started from -8 x the
// block's activation sum, is the exact block dot sum_i q_i x_i, scaled by w_scale * x_scale: the
// result is dequant(q8_0(x)) . dequant(w) up to f32 summation order.
//
// Each call computes output features [begin, end) of y (row stride ldy) for m <= kQ8RowsMaxM
// activation rows [row0, row0 + m), overwriting them.

#include <cstdint>

#include "backends/cpu/cpu_features.h"
#include "backends/cpu/q8_rows.h"
#include "chatterd/core/half.h"

namespace chatterd::cpu {

inline constexpr int kQ4RowsAlign = 128;  // k must be a multiple (one 64-byte group)
inline constexpr std::int32_t kQ4RowsZero = 8;

using Q4RowsKernel = void (*)(const Q8RowsActivation& x, std::int64_t row0, std::int64_t m,
                              const std::uint8_t* codes, const Half* scales, std::int64_t begin,
                              std::int64_t end, float* y, std::int64_t ldy);

// The fastest kernel at or below `isa` on this CPU: AVX512-VNNI, AVX2, else scalar (never null).
Q4RowsKernel q4_rows_kernel(CpuIsa isa);
void q4_rows_scalar(const Q8RowsActivation& x, std::int64_t row0, std::int64_t m,
                    const std::uint8_t* codes, const Half* scales, std::int64_t begin,
                    std::int64_t end, float* y, std::int64_t ldy);
void q4_rows_avx2(const Q8RowsActivation& x, std::int64_t row0, std::int64_t m,
                  const std::uint8_t* codes, const Half* scales, std::int64_t begin,
                  std::int64_t end, float* y, std::int64_t ldy);
void q4_rows_avx512_vnni(const Q8RowsActivation& x, std::int64_t row0, std::int64_t m,
                         const std::uint8_t* codes, const Half* scales, std::int64_t begin,
                         std::int64_t end, float* y, std::int64_t ldy);

// Code j of a packed row (the layout above), 0..15.
inline int q4_rows_code(const std::uint8_t* row, std::int64_t j) {
  const std::int64_t g = j / kQ4RowsAlign;
  const std::int64_t t = j % kQ4RowsAlign;
  const std::uint8_t byte = row[g * (kQ4RowsAlign / 2) + t % (kQ4RowsAlign / 2)];
  return t < kQ4RowsAlign / 2 ? (byte & 15) : (byte >> 4);
}

// Dequantises rows [r0, r1) to f32, row-major [r1 - r0, k] (the prefill's sgemm tiles).
void q4_rows_to_f32(const std::uint8_t* codes, const Half* scales, std::int64_t k, std::int64_t r0,
                    std::int64_t r1, float* out);
// The same to bf16 (the AMX prefill's weight side). AVX512_BF16 only.
void q4_rows_to_bf16_avx512_bf16(const std::uint8_t* codes, const Half* scales, std::int64_t k,
                                 std::int64_t r0, std::int64_t r1, BFloat16* out);

}  // namespace chatterd::cpu
