#pragma once
// linear with ROW-PACKED quantised weights: the T3 matrices of an int8 or int4 model.
//  - int8 (backends/cpu/q8_rows.h), on CPUs with AVX512-VNNI: the same numbers as a q8_0 weight
//    (blocks of 32, absmax / 127 scales), laid out for 512-bit int8 dot products, so the decode
//    step streams the weight at memory speed instead of being bound by the per-block work of the
//    36-byte q8_0 format.
//  - int4 (backends/cpu/q4_rows.h), on every CPU (AVX512-VNNI, AVX2 or scalar kernels): the
//    numbers of a q4_0 weight (f16 block scales), ~0.56 bytes a weight.
// Activations are quantised to q8_0 per call. Up to kLinearReducedRowKernelMaxRows rows use the
// row kernels (4 activation rows per pass over an L2-sized weight tile); more rows (a long
// prefill) dequantise weight tiles to bf16 for AMX, or to f32 for sgemm.

#include <cstddef>
#include <cstdint>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

enum class RowQuant : std::uint8_t { Int8, Int4 };

struct PackedQuantWeight {
  RowQuant format = RowQuant::Int8;
  // Int8: I8 [n, k], the bytes are q + 128 (unsigned codes). Int4: I8 [n, k / 2], two codes
  // q + 8 a byte in the group layout of q4_rows.h.
  Tensor codes;
  Tensor scales;  // Int8: F32 [n, k / 32]. Int4: F16 [n, k / 32]
  std::int64_t n = 0;
  std::int64_t k = 0;
  bool empty() const { return n == 0; }
  std::size_t nbytes() const { return codes.nbytes() + scales.nbytes(); }
};

// Whether int8 packing pays and works here: AVX512-VNNI at ctx.isa, and k a multiple of 64.
bool q8_rows_available(const ExecContext& ctx, std::int64_t k);
// Whether int4 rows work here: k a multiple of 128 (any ISA).
bool q4_rows_available(std::int64_t k);
// From a q8_0 weight [n, k] ("out x in"); the codes and scales are the same values.
PackedQuantWeight pack_q8_rows(const ExecContext& ctx, const Tensor& q8_0_weight);
// From a q4_0 weight [n, k] ("out x in"); the same values (q4_0 scales are f16 values).
PackedQuantWeight pack_q4_rows(const ExecContext& ctx, const Tensor& q4_0_weight);
// out[..., n] = x[..., k] @ W^T + bias (x, bias, out f32). Needs q8_rows_available(ctx, k) for
// an int8 weight.
void linear_quant_rows(const ExecContext& ctx, const Tensor& x, const PackedQuantWeight& w,
                       const Tensor* bias, Tensor& out);

}  // namespace chatterd::ops
