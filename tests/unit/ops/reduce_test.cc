#include "ops/reduce.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/thread_pool.h"
#include "ops_test_util.h"

namespace chatterd {
namespace {

using test::context_for;
using test::random_f32;

TEST(Reduce, EveryAxisEveryIsa) {
  ThreadPool pool(2);
  const double eps = std::numeric_limits<float>::epsilon();
  for (const auto isa : cpu::supported_isas()) {
    for (const auto& shape : {Shape{37}, Shape{3, 17}, Shape{2, 5, 33}, Shape{4, 1, 16}}) {
      const Tensor x = random_f32(shape, 3, -4.0f, 4.0f);
      for (int axis = -shape.rank(); axis < shape.rank(); ++axis) {
        const int ax = shape.normalize_axis(axis);
        const std::int64_t outer = shape.outer(ax);
        const std::int64_t len = shape[ax];
        const std::int64_t inner = shape.inner(ax);
        std::vector<double> s(static_cast<std::size_t>(outer * inner));
        std::vector<double> mag(s.size());
        std::vector<double> mx(s.size(), -INFINITY);
        std::vector<std::int64_t> am(s.size(), 0);
        for (std::int64_t o = 0; o < outer; ++o) {
          for (std::int64_t i = 0; i < inner; ++i) {
            const std::size_t r = static_cast<std::size_t>(o * inner + i);
            for (std::int64_t j = 0; j < len; ++j) {
              const float v = x.data<float>()[(o * len + j) * inner + i];
              s[r] += v;
              mag[r] += std::fabs(v);
              if (v > mx[r]) {
                mx[r] = v;
                am[r] = j;
              }
            }
          }
        }
        for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
          const ExecContext ctx = context_for(isa, p);
          const std::string what =
              fmt::format("{} {} axis {}", cpu::isa_name(isa), shape.to_string(), axis);
          Tensor out;
          ops::sum(ctx, x, axis, out);
          ASSERT_EQ(out.numel(), static_cast<std::int64_t>(s.size()));
          ASSERT_EQ(out.rank(), shape.rank() - 1);
          for (std::size_t r = 0; r < s.size(); ++r) {
            ASSERT_NEAR(out.data<float>()[r], s[r], eps * (2 + std::sqrt(double(len))) * mag[r])
                << what;
          }
          ops::mean(ctx, x, axis, out, /*keepdim=*/true);
          ASSERT_EQ(out.rank(), shape.rank());
          ASSERT_EQ(out.dim(ax), 1);
          for (std::size_t r = 0; r < s.size(); ++r) {
            ASSERT_NEAR(out.data<float>()[r], s[r] / double(len),
                        eps * (3 + std::sqrt(double(len))) * mag[r] / double(len))
                << what;
          }
          ops::max(ctx, x, axis, out);
          for (std::size_t r = 0; r < s.size(); ++r) ASSERT_EQ(out.data<float>()[r], mx[r]) << what;
          ops::argmax(ctx, x, axis, out);
          ASSERT_EQ(out.dtype(), DType::I64);
          for (std::size_t r = 0; r < s.size(); ++r) {
            ASSERT_EQ(out.data<std::int64_t>()[r], am[r]) << what;
          }
        }
      }
    }
  }
}

TEST(Reduce, ArgmaxFirstOfTiesAndErrors) {
  std::vector<float> v = {1.0f, 3.0f, 3.0f, -1.0f};
  Tensor out;
  ops::argmax(ExecContext{}, Tensor::from_span<float>(v, Shape{4}), -1, out);
  EXPECT_EQ(out.data<std::int64_t>()[0], 1);
  EXPECT_THROW(ops::sum(ExecContext{}, random_f32(Shape{3}, 1), 1, out), ShapeError);
  EXPECT_THROW(ops::argmax(ExecContext{}, Tensor::empty(Shape{2, 0}, DType::F32), 1, out),
               ShapeError);
  EXPECT_THROW(ops::sum(ExecContext{}, Tensor::zeros(Shape{3}, DType::F16), 0, out), DTypeError);
}

}  // namespace
}  // namespace chatterd
