#pragma once
// Int8 matrix-vector kernels over ROW-PACKED weights (the T3 decode step on AVX512-VNNI CPUs):
// weight row r is k unsigned codes u = q + 128 (q the q8_0 code of the weight, blocks of 32 along
// k, scale absmax / 127) followed, in a separate array, by its k / 32 block scales. Rows start on
// 64-byte boundaries when k % 64 == 0, so a 512-bit vpdpbusd takes two whole blocks per load
// (the 36-byte q8_0 block format splits loads across cache lines and needs a scalar scale per 32
// codes).
//
// The activation rows are prepared once per call (Q8RowsActivation): q8_0 codes (s8), the block
// scales, and per pair of blocks an int32 start vector holding -128 x (sum of the block's codes)
// in lanes 0 and 8, so that vpdpbusd(start, u, x) leaves sum_i q_i x_i of each block exactly in
// its 8 lanes. Every block is then an exact int32 dot product scaled by w_scale * x_scale: the
// result is dequant(q8_0(x)) . dequant(w), as the q8_0 kernels, up to f32 summation order.
//
// Each call computes output features [begin, end) of y (row stride ldy) for m <= kQ8RowsMaxM
// activation rows, overwriting them.

#include <cstdint>
#include <vector>

#include "backends/cpu/cpu_features.h"
#include "chatterd/core/dtype.h"
#include "chatterd/core/half.h"

namespace chatterd::cpu {

inline constexpr int kQ8RowsAlign = 64;  // k must be a multiple (two q8_0 blocks)
inline constexpr int kQ8RowsMaxM = 4;    // activation rows per kernel call

// The activation side of one call: m rows of k values.
struct Q8RowsActivation {
  std::int64_t m = 0;
  std::int64_t k = 0;
  std::vector<std::int8_t> codes;    // [m, k]
  std::vector<float> scales;         // [m, k / 32]
  std::vector<std::int32_t> starts;  // [m, k / 64, 16]
  // Row i's codes, block scales and start vectors.
  const std::int8_t* row_codes(std::int64_t i) const { return codes.data() + i * k; }
  const float* row_scales(std::int64_t i) const { return scales.data() + i * (k / kQ8BlockSize); }
  const std::int32_t* row_starts(std::int64_t i) const {
    return starts.data() + i * (k / (2 * kQ8BlockSize)) * 16;
  }
  // Quantises x [m, k] (row stride ldx) into this (reusing capacity: no allocation once warm).
  // `weight_zero` is what the weight's unsigned codes are offset by: 128 for int8 rows, 8 for the
  // int4 rows of q4_rows.h (the start lanes hold -weight_zero x the block's code sum). Runs the
  // AVX-512 row where the CPU has it unless `isa` is below (the results are the same).
  void prepare(const float* x, std::int64_t m, std::int64_t k, std::int64_t ldx,
               std::int32_t weight_zero = 128, CpuIsa isa = CpuIsa::Avx512);

 private:
  std::vector<BlockQ8> blocks_;  // one row's q8_0 blocks
};

using Q8RowsKernel = void (*)(const Q8RowsActivation& x, std::int64_t row0, std::int64_t m,
                              const std::uint8_t* codes, const float* scales, std::int64_t begin,
                              std::int64_t end, float* y, std::int64_t ldy);

// The AVX512-VNNI kernel when `isa` is AVX-512 and cpuid reports VNNI; null otherwise (callers
// keep q8_0 weights then).
Q8RowsKernel q8_rows_kernel(CpuIsa isa);
// Scalar reference with the same contract (tests). Activation rows [row0, row0 + m) of x.
void q8_rows_scalar(const Q8RowsActivation& x, std::int64_t row0, std::int64_t m,
                    const std::uint8_t* codes, const float* scales, std::int64_t begin,
                    std::int64_t end, float* y, std::int64_t ldy);
void q8_rows_avx512_vnni(const Q8RowsActivation& x, std::int64_t row0, std::int64_t m,
                         const std::uint8_t* codes, const float* scales, std::int64_t begin,
                         std::int64_t end, float* y, std::int64_t ldy);

// One activation row of Q8RowsActivation::prepare with AVX-512: the same codes, scales and starts
// as the scalar rule (quantize_row_q8_0), bit for bit; `starts` ([n_blocks / 2, 16]) must be
// zero.
void q8_rows_prepare_row_avx512(const float* x, std::int64_t n_blocks, std::int32_t weight_zero,
                                std::int8_t* codes, float* scales, std::int32_t* starts);

// Dequantises rows [r0, r1) of row-packed codes and scales (k % 64 == 0) to bf16, row-major
// [r1 - r0, k] (the AMX prefill's weight side). AVX512_BF16 only (the AMX path implies it).
void q8_rows_to_bf16_avx512_bf16(const std::uint8_t* codes, const float* scales, std::int64_t k,
                                 std::int64_t r0, std::int64_t r1, BFloat16* out);

}  // namespace chatterd::cpu
