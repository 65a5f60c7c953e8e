#include "ops/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/thread_pool.h"
#include "ops_test_util.h"

namespace chatterd {
namespace {

using test::random_f32;

// Reference for one batch element with explicit strides.
void check_matmul(const Tensor& a, const Tensor& b, const Tensor& c0, const Tensor& out,
                  ops::MatmulOptions o, const std::string& what) {
  const bool batched = out.rank() == 3;
  const std::int64_t batch = batched ? out.dim(0) : 1;
  const std::int64_t m = out.dim(-2);
  const std::int64_t n = out.dim(-1);
  const std::int64_t k = o.trans_a ? a.dim(-2) : a.dim(-1);
  const double eps = std::numeric_limits<float>::epsilon();
  for (std::int64_t bi = 0; bi < batch; ++bi) {
    const float* pa = a.data<float>() + (a.rank() == 3 ? bi * m * k : 0);
    const float* pb = b.data<float>() + (b.rank() == 3 ? bi * k * n : 0);
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        double s = 0.0;
        double mag = 0.0;
        for (std::int64_t p = 0; p < k; ++p) {
          const double av = o.trans_a ? pa[p * m + i] : pa[i * k + p];
          const double bv = o.trans_b ? pb[j * k + p] : pb[p * n + j];
          s += av * bv;
          mag += std::fabs(av * bv);
        }
        const std::int64_t idx = bi * m * n + i * n + j;
        double want = o.alpha * s;
        mag = std::fabs(o.alpha) * mag;
        if (o.beta != 0.0f) {
          want += o.beta * c0.data<float>()[idx];
          mag += std::fabs(o.beta * c0.data<float>()[idx]);
        }
        const double got = out.data<float>()[idx];
        ASSERT_LE(std::fabs(got - want), eps * (2 * std::sqrt(double(k)) + 3) * mag + 1e-30)
            << what << " b=" << bi << " i=" << i << " j=" << j;
      }
    }
  }
}

TEST(Matmul, ShapesTransposesAndAccumulate) {
  ThreadPool pool(3);
  std::uint32_t seed = 100;
  for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
    const ExecContext ctx = test::context_for(cpu::default_isa(), p);
    for (const int rank_a : {2, 3}) {
      for (const int rank_b : {2, 3}) {
        for (const bool ta : {false, true}) {
          for (const bool tb : {false, true}) {
            for (const auto& mnk :
                 {std::array<std::int64_t, 3>{1, 1, 1}, std::array<std::int64_t, 3>{5, 7, 3},
                  std::array<std::int64_t, 3>{33, 130, 65}, std::array<std::int64_t, 3>{0, 4, 3},
                  std::array<std::int64_t, 3>{3, 4, 0}}) {
              const auto [m, n, k] = mnk;
              const std::int64_t batch = 2;
              const Shape sa = ta ? Shape{k, m} : Shape{m, k};
              const Shape sb = tb ? Shape{n, k} : Shape{k, n};
              auto batched = [&](const Shape& s, int rank) {
                return rank == 3 ? Shape{batch, s[0], s[1]} : s;
              };
              const Tensor a = random_f32(batched(sa, rank_a), seed++);
              const Tensor b = random_f32(batched(sb, rank_b), seed++);
              const bool out3 = rank_a == 3 || rank_b == 3;
              const Shape so = out3 ? Shape{batch, m, n} : Shape{m, n};
              for (const float beta : {0.0f, 0.5f}) {
                ops::MatmulOptions o{ta, tb, 1.5f, beta};
                const Tensor c0 = random_f32(so, seed++);
                Tensor out = c0.clone();
                ops::matmul(ctx, a, b, out, o);
                ASSERT_EQ(out.shape(), so);
                check_matmul(a, b, c0, out, o,
                             fmt::format("ra={} rb={} ta={} tb={} m={} n={} k={} beta={} pool={}",
                                         rank_a, rank_b, ta, tb, m, n, k, beta, p != nullptr));
              }
            }
          }
        }
      }
    }
  }
}

TEST(Matmul, Errors) {
  Tensor out;
  const ExecContext ctx;
  EXPECT_THROW(ops::matmul(ctx, random_f32(Shape{2, 3}, 1), random_f32(Shape{4, 5}, 2), out),
               ShapeError);
  EXPECT_THROW(ops::matmul(ctx, random_f32(Shape{2, 2, 3}, 1), random_f32(Shape{3, 3, 5}, 2), out),
               ShapeError);
  EXPECT_THROW(ops::matmul(ctx, random_f32(Shape{3}, 1), random_f32(Shape{3, 5}, 2), out),
               ShapeError);
  EXPECT_THROW(
      ops::matmul(ctx, Tensor::zeros(Shape{2, 3}, DType::F16), random_f32(Shape{3, 5}, 2), out),
      DTypeError);
  Tensor wrong = random_f32(Shape{2, 4}, 3);
  EXPECT_THROW(ops::matmul(ctx, random_f32(Shape{2, 3}, 1), random_f32(Shape{3, 5}, 2), wrong,
                           {false, false, 1.0f, 1.0f}),
               ShapeError);
}

}  // namespace
}  // namespace chatterd
