#include "chatterd/core/tensor.h"

#include <gtest/gtest.h>

#include <vector>

#include "chatterd/core/error.h"
#include "chatterd/core/half.h"

namespace chatterd {
namespace {

TEST(Shape, BasicsAndNegativeAxes) {
  const Shape s{2, 3, 4};
  EXPECT_EQ(s.rank(), 3);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s.dim(-1), 4);
  EXPECT_EQ(s.outer(-1), 6);
  EXPECT_EQ(s.inner(0), 12);
  EXPECT_EQ(s.to_string(), "[2, 3, 4]");
  EXPECT_THROW((void)s.dim(3), ShapeError);
  EXPECT_THROW((void)s.dim(-4), ShapeError);
  EXPECT_EQ(Shape{}.numel(), 1);
}

TEST(Shape, RejectsNegativeAndTooManyDims) {
  EXPECT_THROW((Shape{2, -1}), ShapeError);
  EXPECT_THROW((Shape{1, 1, 1, 1, 1, 1, 1, 1, 1}), ShapeError);
}

TEST(Tensor, EmptyZerosAndAlignment) {
  Tensor t = Tensor::zeros({3, 5}, DType::F32);
  EXPECT_EQ(t.nbytes(), 60u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.raw_data()) % 64, 0u);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(t.data<float>()[i], 0.0f);
  EXPECT_TRUE(t.owns_storage());
}

TEST(Tensor, TypedAccessChecksDType) {
  Tensor t = Tensor::empty({4}, DType::F16);
  EXPECT_NO_THROW((void)t.data<Half>());
  EXPECT_THROW((void)t.data<float>(), DTypeError);
}

TEST(Tensor, ReshapeSharesStorageAndInfers) {
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>(i);
  Tensor t = Tensor::from_span<float>(v, {3, 4});
  Tensor r = t.reshape({2, -1});
  EXPECT_EQ(r.shape(), (Shape{2, 6}));
  EXPECT_EQ(r.raw_data(), t.raw_data());
  EXPECT_THROW((void)t.reshape({5, -1}), ShapeError);
  EXPECT_THROW((void)t.reshape({-1, -1}), ShapeError);
  EXPECT_THROW((void)t.reshape(Shape{5, 2}), ShapeError);
}

TEST(Tensor, Narrow0AndSelect0AreViews) {
  std::vector<std::int64_t> v{0, 1, 2, 3, 4, 5};
  Tensor t = Tensor::from_span<std::int64_t>(v, {3, 2});
  Tensor n = t.narrow0(1, 2);
  EXPECT_EQ(n.shape(), (Shape{2, 2}));
  EXPECT_EQ(n.data<std::int64_t>()[0], 2);
  Tensor s = t.select0(2);
  EXPECT_EQ(s.shape(), (Shape{2}));
  EXPECT_EQ(s.data<std::int64_t>()[1], 5);
  EXPECT_THROW((void)t.narrow0(2, 2), ShapeError);
  EXPECT_THROW((void)t.narrow0(-1, 1), ShapeError);
}

TEST(Tensor, ResizeReusesOwnedCapacity) {
  Tensor t = Tensor::empty({16}, DType::F32);
  void* p = t.raw_data();
  t.resize({2, 4}, DType::F32);
  EXPECT_EQ(t.raw_data(), p);
  t.resize({100}, DType::F32);
  EXPECT_EQ(t.numel(), 100);
  // A view of the right shape is written in place, never reallocated.
  Tensor big = Tensor::zeros({4, 4}, DType::F32);
  Tensor view = big.narrow0(1, 2);
  void* vp = view.raw_data();
  view.resize({2, 4}, DType::F32);
  EXPECT_EQ(view.raw_data(), vp);
}

TEST(Tensor, BorrowKeepsOwnerAlive) {
  auto owner = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3, 4});
  Tensor t = Tensor::borrow(owner->data(), {4}, DType::F32, owner);
  std::weak_ptr<std::vector<float>> weak = owner;
  owner.reset();
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(t.data<float>()[3], 4.0f);
  EXPECT_FALSE(t.owns_storage());
}

TEST(Tensor, Q8BlocksMustBeWhole) {
  EXPECT_EQ(Tensor::empty({2, 64}, DType::Q8_0).nbytes(), 4u * sizeof(BlockQ8));
  EXPECT_THROW((void)Tensor::empty({2, 33}, DType::Q8_0), ShapeError);
}

TEST(Half, RoundTripsAndRounding) {
  for (float f : {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333333f}) {
    const float back = half_to_float(float_to_half(f));
    EXPECT_NEAR(back, f, std::abs(f) * 1e-3f + 1e-7f) << f;
  }
  EXPECT_EQ(float_to_half(1.0f).bits, 0x3c00);
  EXPECT_EQ(float_to_half(65520.0f).bits, 0x7c00);               // overflow rounds to inf
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048.0f).bits, 0x3c00);  // tie to even
  EXPECT_EQ(float_to_half(1.0f + 3.0f / 2048.0f).bits, 0x3c02);
  // Every half value survives half -> float -> half exactly.
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    Half h{static_cast<std::uint16_t>(b)};
    const float f = half_to_float(h);
    if (f != f) continue;  // nan
    ASSERT_EQ(float_to_half(f).bits, h.bits) << b;
  }
}

TEST(BFloat16, RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f).bits, 0x3f80);
  EXPECT_EQ(bf16_to_float(float_to_bf16(3.140625f)), 3.140625f);
  const float nan = bf16_to_float(float_to_bf16(__builtin_nanf("")));
  EXPECT_TRUE(nan != nan);
}

}  // namespace
}  // namespace chatterd
