#include "ops/layout.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "core/thread_pool.h"
#include "ops_test_util.h"

namespace chatterd {
namespace {

using test::random_f32;

float at3(const Tensor& t, std::int64_t i, std::int64_t j, std::int64_t k) {
  return t.data<float>()[(i * t.dim(1) + j) * t.dim(2) + k];
}

TEST(Layout, SliceEveryAxis) {
  const Tensor x = random_f32(Shape{3, 5, 7}, 1);
  Tensor out;
  ops::slice(ExecContext{}, x, 1, 1, 4, out);
  ASSERT_EQ(out.shape(), (Shape{3, 3, 7}));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 7; ++k) ASSERT_EQ(at3(out, i, j, k), at3(x, i, j + 1, k));
  ops::slice(ExecContext{}, x, -1, -3, 7, out);  // Python-style negative bounds
  ASSERT_EQ(out.shape(), (Shape{3, 5, 3}));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j)
      for (int k = 0; k < 3; ++k) ASSERT_EQ(at3(out, i, j, k), at3(x, i, j, k + 4));
  ops::slice(ExecContext{}, x, 0, 2, 2, out);
  EXPECT_EQ(out.shape(), (Shape{0, 5, 7}));
  EXPECT_THROW(ops::slice(ExecContext{}, x, 3, 0, 1, out), ShapeError);
}

TEST(Layout, ConcatEveryAxis) {
  ThreadPool pool(2);
  const Tensor a = random_f32(Shape{2, 3, 4}, 1);
  const Tensor b = random_f32(Shape{2, 3, 4}, 2);
  for (int axis = 0; axis < 3; ++axis) {
    std::array<Tensor, 2> parts{a, b};
    Tensor out;
    ExecContext ctx;
    ctx.pool = &pool;
    ops::concat(ctx, parts, axis, out);
    Tensor back0;
    Tensor back1;
    ops::slice(ExecContext{}, out, axis, 0, a.dim(axis), back0);
    ops::slice(ExecContext{}, out, axis, a.dim(axis), 2 * a.dim(axis), back1);
    test::expect_equal(back0, a, "concat part 0");
    test::expect_equal(back1, b, "concat part 1");
  }
  std::array<Tensor, 2> bad{a, random_f32(Shape{2, 4, 4}, 3)};
  Tensor out;
  EXPECT_THROW(ops::concat(ExecContext{}, bad, 0, out), ShapeError);
  std::array<Tensor, 2> mixed{a, Tensor::zeros(Shape{2, 3, 4}, DType::F16)};
  EXPECT_THROW(ops::concat(ExecContext{}, mixed, 0, out), DTypeError);
}

TEST(Layout, PermuteAndTranspose) {
  ThreadPool pool(3);
  const Tensor x = random_f32(Shape{3, 4, 5}, 4);
  const std::array<std::array<int, 3>, 6> perms = {
      {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}};
  for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
    ExecContext ctx;
    ctx.pool = p;
    for (const auto& perm : perms) {
      Tensor out;
      ops::permute(ctx, x, perm, out);
      for (int i = 0; i < 3; ++i) ASSERT_EQ(out.dim(i), x.dim(perm[static_cast<std::size_t>(i)]));
      std::array<std::int64_t, 3> idx{};
      for (idx[0] = 0; idx[0] < 3; ++idx[0])
        for (idx[1] = 0; idx[1] < 4; ++idx[1])
          for (idx[2] = 0; idx[2] < 5; ++idx[2]) {
            std::array<std::int64_t, 3> o{};
            for (int i = 0; i < 3; ++i)
              o[static_cast<std::size_t>(i)] =
                  idx[static_cast<std::size_t>(perm[static_cast<std::size_t>(i)])];
            ASSERT_EQ(at3(out, o[0], o[1], o[2]), at3(x, idx[0], idx[1], idx[2]));
          }
    }
  }
  Tensor t;
  ops::transpose(ExecContext{}, x, -1, 0, t);
  Tensor p;
  const std::array<int, 3> perm = {2, 1, 0};
  ops::permute(ExecContext{}, x, perm, p);
  test::expect_equal(t, p, "transpose");
  const std::array<int, 3> bad = {0, 0, 1};
  EXPECT_THROW(ops::permute(ExecContext{}, x, bad, t), InvalidArgument);
}

// The blocked path for swapping the last two axes (4-byte elements): block edges, batches, 1 and
// several threads, and i32 as well as f32.
TEST(Layout, SwapLastTwoAxesInBlocks) {
  ThreadPool pool(2);
  for (const Shape& shape : {Shape{2, 33, 70}, Shape{1, 64, 32}, Shape{3, 5, 2}, Shape{40, 1}}) {
    const Tensor x = random_f32(shape, 9);
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      ExecContext ctx;
      ctx.pool = p;
      Tensor out;
      ops::transpose(ctx, x, -1, -2, out);
      const std::int64_t rows = x.dim(-2), cols = x.dim(-1);
      ASSERT_EQ(out.dim(-1), rows);
      ASSERT_EQ(out.dim(-2), cols);
      for (std::int64_t b = 0; b < x.numel() / (rows * cols); ++b) {
        for (std::int64_t r = 0; r < rows; ++r) {
          for (std::int64_t c = 0; c < cols; ++c) {
            ASSERT_EQ(out.data<float>()[(b * cols + c) * rows + r],
                      x.data<float>()[(b * rows + r) * cols + c]);
          }
        }
      }
    }
  }
  const std::vector<std::int32_t> ids = {1, 2, 3, 4, 5, 6};
  Tensor t;
  ops::transpose(ExecContext{}, Tensor::from_span<std::int32_t>(ids, {2, 3}), 0, 1, t);
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  EXPECT_EQ(t.data<std::int32_t>()[1], 4);
  EXPECT_EQ(t.data<std::int32_t>()[5], 6);
}

TEST(Layout, CopyIntoView) {
  const Tensor x = random_f32(Shape{2, 6}, 5);
  Tensor big = Tensor::zeros(Shape{4, 6}, DType::F32);
  Tensor view = big.narrow0(1, 2);
  ops::copy(ExecContext{}, x, view);
  for (int i = 0; i < 12; ++i) ASSERT_EQ(big.data<float>()[6 + i], x.data<float>()[i]);
  EXPECT_EQ(big.data<float>()[0], 0.0f);
  EXPECT_EQ(big.data<float>()[18], 0.0f);
}

}  // namespace
}  // namespace chatterd
