#pragma once
// linear: out[..., n] = x[..., k] @ W^T + bias, the hot path of every model. x, bias and out are
// f32; W is f32, f16, bf16 or q8_0 and is always accumulated in f32.
//  - few rows (M <= kLinearGemvMaxRows, T3 decode steps): SIMD dot products straight from the
//    stored weights (memory-bandwidth bound: the weight is read once), split over output features;
//    q8_0 "out x in" weights quantise the activation rows to q8_0 first (per block of 32, scale
//    absmax / 127) and use int8 dot products (AVX512-VNNI / AVX2 maddubs): the result is exactly
//    dequant(q8_0(x)) . dequant(w) up to f32 summation order. bf16 uses the shift-convert
//    kernels (vdpbf16ps on an exact split of x measured 1.5x slower on Zen 4; see qdot_kernels.h);
//  - f16/bf16/q8_0 weights with up to kLinearReducedRowKernelMaxRows rows: the same row kernels,
//    16 rows at a time (same semantics, q8_0 activations included);
//  - more rows (prefill): weight tiles are converted to f32 and multiplied with OpenBLAS sgemm,
//    tiles split over the pool.

#include <cstdint>
#include <functional>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

enum class WeightLayout {
  OutIn,  // [out, in]: torch.nn.Linear
  InOut,  // [in, out]: GPT-2 Conv1D
};

// Up to this many rows (a batched T3 decode step of up to 16 streams) the row kernels stream the
// weight once (in L2-sized tiles, one pass per group of rows); beyond, sgemm wins.
inline constexpr std::int64_t kLinearGemvMaxRows = 16;
// Reduced-precision weights (f16/bf16/q8_0) with up to this many rows (a T3 text prefill from the
// voice's cached conditioning prefix) run the row kernels in groups of kLinearGemvMaxRows: the
// sgemm path first converts the whole weight to f32 (350 MB of int8 Turbo T3 -> 1.4 GB written),
// which costs more than re-reading the reduced weight once per group.
inline constexpr std::int64_t kLinearReducedRowKernelMaxRows = 128;

// Which path computes a linear: Auto picks by row count (kLinearGemvMaxRows); the others force
// one, for tests that check the paths agree and for benchmarks that compare them.
enum class LinearPath { Auto, RowKernels, Gemm };

// bias: [out] f32 or null. out must not alias x.
void linear(const ExecContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
            Tensor& out, WeightLayout layout = WeightLayout::OutIn,
            LinearPath path = LinearPath::Auto);

namespace detail {
// The prefill path of linear for any weight format: y [m, n] = x [m, k] W^T (+ bias), with W
// produced as f32 tiles of up to kLinearTileCols output features by fill(c0, c1, tile) ([nc, k]
// for OutIn, [k, nc] for InOut), each multiplied by single-threaded sgemm on the pool's workers.
inline constexpr std::int64_t kLinearTileCols = 64;
void linear_f32_tiles(const ExecContext& ctx, const float* x, std::int64_t m, std::int64_t k,
                      std::int64_t n, const float* bias, float* y, WeightLayout layout,
                      const std::function<void(std::int64_t, std::int64_t, float*)>& fill);
}  // namespace detail

// Block-quantises an f32/f16/bf16 tensor along its last dimension (a multiple of 32): each block
// of 32 gets scale = absmax / 127 and codes round(x / scale) (halfway cases away from zero, as
// ggml). An all-zero block gets scale 0. out: same shape, dtype Q8_0.
void quantize_q8_0(const ExecContext& ctx, const Tensor& w, Tensor& out);
// The inverse, to f32 (for tests and for reference paths).
void dequantize_q8_0(const ExecContext& ctx, const Tensor& w, Tensor& out);
// Q4_0 (4-bit codes, blocks of 32): codes clamp(round(-8 x / m), -8, 7) with m the block's value
// of largest magnitude, and the least-squares scale for those codes, rounded to f16. Not a format
// ops::linear takes: the T3 matrices hold it row-packed (ops/linear_q8.h). out: same shape, dtype
// Q4_0.
void quantize_q4_0(const ExecContext& ctx, const Tensor& w, Tensor& out);
void dequantize_q4_0(const ExecContext& ctx, const Tensor& w, Tensor& out);

}  // namespace chatterd::ops
