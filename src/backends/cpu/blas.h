#pragma once
// The one place that calls OpenBLAS. Row-major single-precision GEMM:
//   C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C
// OpenBLAS is pinned to one thread on first use: our ThreadPool is the only source of
// parallelism (ops split GEMMs into column tiles and call this from pool workers), so the two
// pools never oversubscribe the cores or spin against each other.

#include <cstdint>

namespace chatterd::cpu {

void sgemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
           const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
           std::int64_t ldc);

}  // namespace chatterd::cpu
