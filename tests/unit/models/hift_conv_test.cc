// Weight-norm folding for HiFT's convs: the norm axis (dim 0 = INPUT channel of ConvTranspose1d
// weights) and the three accepted key spellings.
#include "models/hift/hift_conv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

#include "chatterd/core/error.h"

namespace chatterd::hift {
namespace {

Tensor ramp(const Shape& shape, float scale) {
  Tensor t = Tensor::empty(shape, DType::F32);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    t.data<float>()[i] = scale * static_cast<float>((i * 7) % 11 - 5) + 0.1f;
  }
  return t;
}

double slice_norm(const Tensor& w, std::int64_t r) {
  const std::int64_t inner = w.numel() / w.dim(0);
  double s = 0.0;
  for (std::int64_t i = 0; i < inner; ++i) {
    const double v = w.data<float>()[r * inner + i];
    s += v * v;
  }
  return std::sqrt(s);
}

// ConvTranspose1d weight (in=3, out=2, k=4): g is (3, 1, 1) and each INPUT-channel slice gets
// norm |g|; normalising per output channel instead would give other norms.
TEST(HiftWeightNorm, TransposedConvNormsPerInputChannel) {
  const Tensor v = ramp({3, 2, 4}, 0.3f);
  Tensor g = Tensor::empty({3, 1, 1}, DType::F32);
  g.data<float>()[0] = 0.5f;
  g.data<float>()[1] = -1.5f;  // negative g flips the sign
  g.data<float>()[2] = 2.0f;
  const Tensor w = fold_weight_norm(g, v);
  ASSERT_EQ(w.shape(), v.shape());
  for (std::int64_t r = 0; r < 3; ++r) {
    EXPECT_NEAR(slice_norm(w, r), std::fabs(g.data<float>()[r]), 1e-6) << r;
  }
  // Direction kept: w = v * g / ||v|| element by element.
  const double n1 = slice_norm(v, 1);
  for (std::int64_t i = 0; i < 8; ++i) {
    EXPECT_NEAR(w.data<float>()[8 + i], v.data<float>()[8 + i] * -1.5 / n1, 1e-6);
  }
  EXPECT_THROW(fold_weight_norm(Tensor::zeros({2, 1, 1}, DType::F32), v), ShapeError);
}

TEST(HiftWeightNorm, AcceptsParametrizationLegacyAndFoldedNames) {
  const Tensor v = ramp({4, 3, 5}, 0.2f);
  const Tensor g = ramp({4, 1, 1}, 0.4f);
  const Tensor expected = fold_weight_norm(g, v);
  std::map<std::string, Tensor, std::less<>> a;
  a["c.parametrizations.weight.original0"] = g.clone();
  a["c.parametrizations.weight.original1"] = v.clone();
  std::map<std::string, Tensor, std::less<>> b;
  b["c.weight_g"] = g.clone();
  b["c.weight_v"] = v.clone();
  std::map<std::string, Tensor, std::less<>> c;
  c["c.weight"] = expected.clone();
  for (auto* m : {&a, &b, &c}) {
    const auto store = WeightStore::from_tensors(*m, "test");
    const Tensor w = load_weight_norm(*store, "c", {4, 3, 5});
    for (std::int64_t i = 0; i < w.numel(); ++i) {
      EXPECT_EQ(w.data<float>()[i], expected.data<float>()[i]) << i;
    }
  }
  const auto empty = WeightStore::from_tensors({}, "empty");
  EXPECT_THROW(load_weight_norm(*empty, "c", {4, 3, 5}), ModelFormatError);
  const auto wrong = WeightStore::from_tensors(a, "wrong-shape");
  EXPECT_THROW(load_weight_norm(*wrong, "c", {4, 3, 7}), ModelFormatError);
}

}  // namespace
}  // namespace chatterd::hift
