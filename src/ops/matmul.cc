#include "ops/matmul.h"

#include <algorithm>

#include "backends/cpu/blas.h"
#include "core/check.h"

namespace chatterd::ops {
namespace {

// Below this many multiply-adds a GEMM runs on the calling thread: splitting costs more.
constexpr std::int64_t kParallelMacs = std::int64_t{1} << 18;
constexpr std::int64_t kMinTileCols = 32;

int pool_threads(const ExecContext& ctx) {
  return ctx.pool == nullptr ? 1 : ctx.pool->size();
}

}  // namespace

void parallel_sgemm(const ExecContext& ctx, bool trans_a, bool trans_b, std::int64_t m,
                    std::int64_t n, std::int64_t k, float alpha, const float* a, std::int64_t lda,
                    const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
  const int threads = pool_threads(ctx);
  if (threads == 1 || m * n * k < kParallelMacs || n < 2 * kMinTileCols) {
    cpu::sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // About two tiles per thread; widths a multiple of 16 floats (whole cache lines of C).
  std::int64_t width = (n + 2 * threads - 1) / (2 * threads);
  width = std::max(kMinTileCols, (width + 15) / 16 * 16);
  const std::int64_t tiles = (n + width - 1) / width;
  ctx.parallel_for(tiles, 1, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t c0 = t * width;
      const std::int64_t nc = std::min(n, c0 + width) - c0;
      const float* bt = trans_b ? b + c0 * ldb : b + c0;
      cpu::sgemm(trans_a, trans_b, m, nc, k, alpha, a, lda, bt, ldb, beta, c + c0, ldc);
    }
  });
}

void matmul(const ExecContext& ctx, const Tensor& a, const Tensor& b, Tensor& out,
            MatmulOptions opts) {
  check_dtype(a, DType::F32, "matmul: a");
  check_dtype(b, DType::F32, "matmul: b");
  CHATTERD_CHECK(a.rank() == 2 || a.rank() == 3, ShapeError, "matmul: a must be 2-D or 3-D, got {}",
                 a.to_string());
  CHATTERD_CHECK(b.rank() == 2 || b.rank() == 3, ShapeError, "matmul: b must be 2-D or 3-D, got {}",
                 b.to_string());
  CHATTERD_CHECK(&out != &a && &out != &b, InvalidArgument, "matmul: out must not alias a or b");
  const std::int64_t ba = a.rank() == 3 ? a.dim(0) : 1;
  const std::int64_t bb = b.rank() == 3 ? b.dim(0) : 1;
  CHATTERD_CHECK(a.rank() == 2 || b.rank() == 2 || ba == bb, ShapeError,
                 "matmul: batch sizes differ: a {} vs b {}", a.to_string(), b.to_string());
  const std::int64_t batch = std::max(ba, bb);
  const std::int64_t m = opts.trans_a ? a.dim(-1) : a.dim(-2);
  const std::int64_t k = opts.trans_a ? a.dim(-2) : a.dim(-1);
  const std::int64_t kb = opts.trans_b ? b.dim(-1) : b.dim(-2);
  const std::int64_t n = opts.trans_b ? b.dim(-2) : b.dim(-1);
  CHATTERD_CHECK(k == kb, ShapeError,
                 "matmul: inner dimensions differ: a {} (trans_a={}) has K={}, b {} (trans_b={}) "
                 "has K={}",
                 a.to_string(), opts.trans_a, k, b.to_string(), opts.trans_b, kb);
  const Shape out_shape = (a.rank() == 3 || b.rank() == 3) ? Shape{batch, m, n} : Shape{m, n};
  if (opts.beta != 0.0f) {
    check_shape(out, out_shape, "matmul: out (read because beta != 0)");
    check_dtype(out, DType::F32, "matmul: out");
  }
  out.resize(out_shape, DType::F32);

  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* pc = out.data<float>();
  const std::int64_t stride_a = a.rank() == 3 ? m * k : 0;
  const std::int64_t stride_b = b.rank() == 3 ? k * n : 0;
  const std::int64_t lda = std::max<std::int64_t>(1, a.dim(-1));
  const std::int64_t ldb = std::max<std::int64_t>(1, b.dim(-1));
  const std::int64_t ldc = std::max<std::int64_t>(1, n);
  const int threads = pool_threads(ctx);
  if (batch >= threads && threads > 1) {
    ctx.parallel_for(batch, 1, [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t i = b0; i < b1; ++i) {
        cpu::sgemm(opts.trans_a, opts.trans_b, m, n, k, opts.alpha, pa + i * stride_a, lda,
                   pb + i * stride_b, ldb, opts.beta, pc + i * m * n, ldc);
      }
    });
    return;
  }
  for (std::int64_t i = 0; i < batch; ++i) {
    parallel_sgemm(ctx, opts.trans_a, opts.trans_b, m, n, k, opts.alpha, pa + i * stride_a, lda,
                   pb + i * stride_b, ldb, opts.beta, pc + i * m * n, ldc);
  }
}

}  // namespace chatterd::ops
