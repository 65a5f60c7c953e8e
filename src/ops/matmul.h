#pragma once
// matmul: out = alpha * op(a) @ op(b) + beta * out, f32, on OpenBLAS (see backends/cpu/blas.h).
//   a: [M, K] or [B, M, K] (op(a) = a, or a^T per trans_a: then a is [K, M] / [B, K, M])
//   b: [K, N] or [B, K, N] (likewise trans_b); a 2-D operand is shared by every batch.
//   out: [M, N] or [B, M, N]. With beta != 0 out must already have that shape (it is read).
// out must not alias a or b.

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

struct MatmulOptions {
  bool trans_a = false;
  bool trans_b = false;
  float alpha = 1.0f;
  float beta = 0.0f;
};

void matmul(const ExecContext& ctx, const Tensor& a, const Tensor& b, Tensor& out,
            MatmulOptions opts = {});

// The building block: one row-major GEMM split into column tiles over ctx's pool.
void parallel_sgemm(const ExecContext& ctx, bool trans_a, bool trans_b, std::int64_t m,
                    std::int64_t n, std::int64_t k, float alpha, const float* a, std::int64_t lda,
                    const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc);

}  // namespace chatterd::ops
