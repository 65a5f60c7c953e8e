#include "ops/elementwise.h"

#include <gtest/gtest.h>

#include "core/thread_pool.h"
#include "ops_test_util.h"

namespace chatterd {
namespace {

using test::context_for;
using test::random_f32;

using BinaryFn = void (*)(const ExecContext&, const Tensor&, const Tensor&, Tensor&);

// Reference by explicit index arithmetic on the broadcast shape.
std::vector<double> reference(const Tensor& a, const Tensor& b, const Shape& out, int op) {
  std::vector<double> r(static_cast<std::size_t>(out.numel()));
  for (std::int64_t flat = 0; flat < out.numel(); ++flat) {
    std::int64_t rem = flat;
    std::int64_t ia = 0, ib = 0, sa = 1, sb = 1;
    for (int d = out.rank() - 1; d >= 0; --d) {
      const std::int64_t i = rem % out[d];
      rem /= out[d];
      const int da = d - (out.rank() - a.rank());
      const int db = d - (out.rank() - b.rank());
      if (da >= 0) {
        ia += (a.dim(da) == 1 ? 0 : i) * sa;
        sa *= a.dim(da);
      }
      if (db >= 0) {
        ib += (b.dim(db) == 1 ? 0 : i) * sb;
        sb *= b.dim(db);
      }
    }
    const float x = a.data<float>()[ia];
    const float y = b.data<float>()[ib];
    const float v = op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
    r[static_cast<std::size_t>(flat)] = v;
  }
  return r;
}

TEST(Elementwise, BroadcastingOnEveryIsa) {
  const BinaryFn fns[] = {ops::add, ops::sub, ops::mul, ops::div};
  const std::pair<Shape, Shape> cases[] = {
      {Shape{17}, Shape{17}},
      {Shape{3, 17}, Shape{17}},
      {Shape{3, 17}, Shape{3, 1}},
      {Shape{1}, Shape{2, 5, 33}},
      {Shape{2, 1, 33}, Shape{1, 5, 1}},
      {Shape{4, 1, 6, 1}, Shape{3, 1, 5}},
      {Shape{}, Shape{7}},
      {Shape{0, 3}, Shape{3}},
      {Shape{2, 3, 40}, Shape{2, 3, 40}},
      {Shape{5, 1}, Shape{1, 1}},
  };
  ThreadPool pool(3);
  std::uint32_t seed = 1;
  for (const auto isa : cpu::supported_isas()) {
    for (const auto& [sa, sb] : cases) {
      const Tensor a = random_f32(sa, seed++, 0.5f, 2.0f);
      const Tensor b = random_f32(sb, seed++, 0.5f, 2.0f);
      for (int op = 0; op < 4; ++op) {
        for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
          Tensor out;
          fns[op](context_for(isa, p), a, b, out);
          const Shape want_shape = ops::broadcast_shapes(sa, sb, "test");
          ASSERT_EQ(out.shape(), want_shape);
          // Each element is one IEEE operation: results must be bit-exact.
          test::expect_close(
              out, reference(a, b, want_shape, op), 0.0, 0.0,
              fmt::format("{} op{} {} {}", cpu::isa_name(isa), op, sa.to_string(), sb.to_string()));
        }
      }
    }
  }
}

TEST(Elementwise, InPlaceAndAliasing) {
  const Tensor bias = random_f32(Shape{8}, 2);
  Tensor x = random_f32(Shape{3, 8}, 1);
  const Tensor x0 = x.clone();
  ops::add(ExecContext{}, x, bias, x);  // in place, out is a
  Tensor want;
  ops::add(ExecContext{}, x0, bias, want);
  test::expect_equal(x, want, "in place");
  Tensor small = bias.clone();
  ops::mul(ExecContext{}, x0, small, small);  // out is the smaller input: computed aside
  ops::mul(ExecContext{}, x0, bias, want);
  test::expect_equal(small, want, "aliasing the broadcast input");
}

TEST(Elementwise, Errors) {
  Tensor out;
  EXPECT_THROW(ops::add(ExecContext{}, random_f32(Shape{3, 4}, 1), random_f32(Shape{3}, 2), out),
               ShapeError);
  EXPECT_THROW(
      ops::add(ExecContext{}, Tensor::zeros(Shape{3}, DType::I32), random_f32(Shape{3}, 2), out),
      DTypeError);
}

}  // namespace
}  // namespace chatterd
