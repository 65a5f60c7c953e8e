#pragma once
// linear with ROW-PACKED int8 weights (backends/cpu/q8_rows.h): the T3 matrices of an int8 model
// on CPUs with AVX512-VNNI. The same numbers as a q8_0 weight (blocks of 32, absmax / 127 scales,
// activations quantised to q8_0 per call), laid out for 512-bit int8 dot products: the decode
// step streams the weight at memory speed instead of being bound by the per-block work of the
// 36-byte q8_0 format. Up to kLinearReducedRowKernelMaxRows rows use the row kernels (4
// activation rows per pass over an L2-sized weight tile); more rows (a long prefill) convert
// weight tiles to f32 for sgemm.

#include <cstddef>
#include <cstdint>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

struct PackedQ8Weight {
  Tensor codes;   // I8 [n, k]: the bytes are q + 128 (unsigned codes)
  Tensor scales;  // F32 [n, k / 32]
  std::int64_t n = 0;
  std::int64_t k = 0;
  bool empty() const { return n == 0; }
  std::size_t nbytes() const { return codes.nbytes() + scales.nbytes(); }
};

// Whether packing pays and works here: AVX512-VNNI at ctx.isa, and k a multiple of 64.
bool q8_rows_available(const ExecContext& ctx, std::int64_t k);
// From a q8_0 weight [n, k] ("out x in"); the codes and scales are the same values.
PackedQ8Weight pack_q8_rows(const ExecContext& ctx, const Tensor& q8_0_weight);
// out[..., n] = x[..., k] @ W^T + bias (x, bias, out f32). Needs q8_rows_available(ctx, k).
void linear_q8_rows(const ExecContext& ctx, const Tensor& x, const PackedQ8Weight& w,
                    const Tensor* bias, Tensor& out);

}  // namespace chatterd::ops
