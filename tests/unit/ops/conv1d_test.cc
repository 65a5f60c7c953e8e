#include "ops/conv1d.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "chatterd/core/error.h"
#include "core/thread_pool.h"
#include "unit/ops/ops_test_util.h"

namespace chatterd::ops {
namespace {

std::vector<float> reference_conv1d(const Tensor& x, const Tensor& w, const Tensor* bias,
                                    const Conv1dOptions& o) {
  const std::int64_t B = x.dim(0), Ci = x.dim(1), T = x.dim(2), Co = w.dim(0), K = w.dim(2);
  const std::int64_t Cig = Ci / o.groups, Cog = Co / o.groups;
  const std::int64_t To = (T + o.pad_left + o.pad_right - o.dilation * (K - 1) - 1) / o.stride + 1;
  std::vector<float> out(static_cast<std::size_t>(B * Co * To));
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t co = 0; co < Co; ++co) {
      const std::int64_t g = co / Cog;
      for (std::int64_t t = 0; t < To; ++t) {
        double acc = bias != nullptr ? bias->data<float>()[co] : 0.0;
        for (std::int64_t ci = 0; ci < Cig; ++ci) {
          for (std::int64_t k = 0; k < K; ++k) {
            const std::int64_t src = t * o.stride + k * o.dilation - o.pad_left;
            if (src < 0 || src >= T) continue;
            acc += double{w.data<float>()[(co * Cig + ci) * K + k]} *
                   x.data<float>()[(b * Ci + g * Cig + ci) * T + src];
          }
        }
        out[(b * Co + co) * To + t] = static_cast<float>(acc);
      }
    }
  }
  return out;
}

struct Conv1dCase {
  std::int64_t b, ci, co, t, k;
  Conv1dOptions o;
  bool bias;
};

TEST(Conv1d, MatchesNaiveLoops) {
  std::mt19937 rng(17);
  const Conv1dCase cases[] = {
      {2, 5, 7, 23, 3, {1, 1, 1, 1, 1}, true},
      {1, 4, 3, 40, 3, {1, 3, 1, 6, 0}, false},       // causal, dilation 3
      {1, 6, 5, 41, 5, {1, 5, 1, 20, 0}, true},       // causal, dilation 5
      {2, 3, 4, 37, 4, {2, 1, 1, 2, 1}, true},        // stride 2
      {1, 3, 4, 50, 5, {3, 2, 1, 0, 4}, false},       // stride 3, dilation 2, right pad only
      {2, 6, 9, 29, 3, {1, 1, 3, 1, 1}, true},        // groups 3
      {1, 5, 5, 33, 7, {2, 3, 5, 9, 9}, true},        // depthwise, stride 2, dilation 3
      {1, 4, 8, 31, 3, {1, 1, 4, 2, 0}, false},       // groups == C_in, 2 outputs per group
      {2, 7, 5, 19, 1, {1, 1, 1, 0, 0}, true},        // 1x1, direct sgemm path
      {1, 3, 2, 600, 1, {1, 1, 1, 0, 0}, false},      // 1x1 across tiles
      {1, 18, 20, 121, 30, {15, 1, 1, 7, 7}, true},   // HiFT source_downs[0]: k30 s15 p7
      {1, 18, 12, 121, 6, {3, 1, 1, 1, 1}, true},     // HiFT source_downs[1]: k6 s3 p1
      {1, 16, 16, 601, 7, {1, 5, 1, 15, 15}, true},   // HiFT resblock k7 dilation 5, several tiles
      {1, 8, 150, 300, 11, {1, 3, 1, 15, 15}, true},  // > 128 output channels: channel blocks
      {1, 4, 4, 5, 5, {1, 1, 1, 0, 0}, true},         // kernel == input: one output
  };
  ThreadPool pool(3);
  for (const Conv1dCase& c : cases) {
    Tensor x = test::random_f32({c.b, c.ci, c.t}, rng);
    Tensor w = test::random_f32({c.co, c.ci / c.o.groups, c.k}, rng);
    Tensor bias = test::random_f32({c.co}, rng);
    const Tensor* bp = c.bias ? &bias : nullptr;
    const auto want = reference_conv1d(x, w, bp, c.o);
    const std::string what =
        fmt::format("b={} ci={} co={} t={} k={} s={} d={} g={} pad=({}, {})", c.b, c.ci, c.co, c.t,
                    c.k, c.o.stride, c.o.dilation, c.o.groups, c.o.pad_left, c.o.pad_right);
    Tensor out;
    conv1d({}, x, w, bp, c.o, out);
    ASSERT_EQ(out.dim(2), conv1d_output_length(c.t, c.k, c.o)) << what;
    ASSERT_EQ(out.numel(), static_cast<std::int64_t>(want.size())) << what;
    for (std::size_t i = 0; i < want.size(); ++i) {
      ASSERT_NEAR(out.data<float>()[i], want[i], 1e-4f) << what << " at " << i;
    }
    Tensor pout;
    conv1d(ExecContext{&pool}, x, w, bp, c.o, pout);
    for (std::int64_t i = 0; i < out.numel(); ++i) {
      ASSERT_EQ(out.data<float>()[i], pout.data<float>()[i]) << what;
    }
  }
}

TEST(Conv1d, OutputLength) {
  EXPECT_EQ(conv1d_output_length(121, 30, {15, 1, 1, 7, 7}), 8);  // (121 + 14 - 30) / 15 + 1
  EXPECT_EQ(conv1d_output_length(100, 3, {1, 1, 1, 2, 0}), 100);  // causal keeps the length
  EXPECT_EQ(conv1d_output_length(100, 7, {1, 5, 1, 15, 15}), 100);
  EXPECT_EQ(conv1d_output_length(10, 3, {2, 1, 1, 0, 0}), 4);
  EXPECT_EQ(conv1d_output_length(5, 5, {}), 1);
}

TEST(Conv1d, WritesIntoPreallocatedView) {
  std::mt19937 rng(2);
  Tensor x = test::random_f32({1, 3, 10}, rng);
  Tensor w = test::random_f32({4, 3, 3}, rng);
  Tensor big = Tensor::zeros({2, 1, 4, 10}, DType::F32);
  Tensor view = big.select0(1);
  conv1d({}, x, w, nullptr, {1, 1, 1, 1, 1}, view);
  EXPECT_EQ(view.raw_data(), big.select0(1).raw_data());
  const auto want = reference_conv1d(x, w, nullptr, {1, 1, 1, 1, 1});
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(big.data<float>()[40 + i], want[i], 1e-5f);
  }
}

TEST(Conv1d, Errors) {
  Tensor x = Tensor::zeros({1, 6, 4}, DType::F32);
  Tensor w = Tensor::zeros({4, 6, 5}, DType::F32);
  Tensor out;
  EXPECT_THROW(conv1d({}, x, w, nullptr, {}, out), ShapeError);  // kernel 5 > length 4
  EXPECT_NO_THROW(conv1d({}, x, w, nullptr, {1, 1, 1, 1, 0}, out));
  Tensor wd = Tensor::zeros({4, 6, 2}, DType::F32);
  EXPECT_NO_THROW(conv1d({}, x, wd, nullptr, {1, 3, 1, 0, 0}, out));  // dilated span 4 == 4
  EXPECT_THROW(conv1d({}, x, wd, nullptr, {1, 4, 1, 0, 0}, out), ShapeError);  // span 5 > 4
  Tensor w4 = Tensor::zeros({4, 1, 3}, DType::F32);
  EXPECT_THROW(conv1d({}, x, w4, nullptr, {1, 1, 4, 1, 1}, out), ShapeError);  // 6 % 4
  Tensor w3 = Tensor::zeros({4, 2, 3}, DType::F32);
  EXPECT_THROW(conv1d({}, x, w3, nullptr, {1, 1, 2, 1, 1}, out), ShapeError);  // w dim 1 != 3
  Tensor bias = Tensor::zeros({5}, DType::F32);
  Tensor w1 = Tensor::zeros({4, 6, 3}, DType::F32);
  EXPECT_THROW(conv1d({}, x, w1, &bias, {1, 1, 1, 1, 1}, out), ShapeError);
  EXPECT_THROW(conv1d({}, x, w1, nullptr, {0, 1, 1, 1, 1}, out), InvalidArgument);
  EXPECT_THROW(conv1d({}, x, w1, nullptr, {1, 1, 1, -1, 1}, out), InvalidArgument);
  Tensor xi = Tensor::zeros({1, 6, 4}, DType::I32);
  EXPECT_THROW(conv1d({}, xi, w1, nullptr, {}, out), DTypeError);
  Tensor x2 = Tensor::zeros({6, 4}, DType::F32);
  EXPECT_THROW(conv1d({}, x2, w1, nullptr, {}, out), ShapeError);
}

std::vector<float> reference_pad(const std::vector<float>& x, std::int64_t l, std::int64_t r,
                                 PadMode mode) {
  const auto T = static_cast<std::int64_t>(x.size());
  std::vector<float> out;
  for (std::int64_t i = -l; i < T + r; ++i) {
    std::int64_t j = i;
    if (mode == PadMode::Zero && (i < 0 || i >= T)) {
      out.push_back(0.0f);
      continue;
    }
    if (mode == PadMode::Reflect) j = i < 0 ? -i : (i >= T ? 2 * (T - 1) - i : i);
    if (mode == PadMode::Replicate) j = std::clamp<std::int64_t>(i, 0, T - 1);
    out.push_back(x[j]);
  }
  return out;
}

TEST(Pad1d, ModesMatchReference) {
  std::mt19937 rng(4);
  ThreadPool pool(2);
  for (PadMode mode : {PadMode::Zero, PadMode::Reflect, PadMode::Replicate}) {
    for (auto [l, r] : {std::pair<std::int64_t, std::int64_t>{1, 0}, {8, 8}, {0, 3}, {0, 0}}) {
      Tensor x = test::random_f32({2, 3, 17}, rng);
      Tensor out, pout;
      pad1d({}, x, l, r, mode, out);
      pad1d(ExecContext{&pool}, x, l, r, mode, pout);
      ASSERT_EQ(out.shape(), (Shape{2, 3, 17 + l + r}));
      for (std::int64_t row = 0; row < 6; ++row) {
        std::vector<float> xr(x.data<float>() + row * 17, x.data<float>() + row * 17 + 17);
        const auto want = reference_pad(xr, l, r, mode);
        for (std::int64_t i = 0; i < 17 + l + r; ++i) {
          ASSERT_EQ(out.data<float>()[row * (17 + l + r) + i], want[i]);
          ASSERT_EQ(pout.data<float>()[row * (17 + l + r) + i], want[i]);
        }
      }
    }
  }
  // Hand case: reflect (1, 0) as HiFT does, and reflect 2 both sides.
  Tensor x = Tensor::from_span<float>(std::vector<float>{1, 2, 3}, {3});
  Tensor out;
  pad1d({}, x, 1, 0, PadMode::Reflect, out);
  EXPECT_EQ(std::vector<float>(out.data<float>(), out.data<float>() + 4),
            (std::vector<float>{2, 1, 2, 3}));
  pad1d({}, x, 2, 2, PadMode::Reflect, out);
  EXPECT_EQ(std::vector<float>(out.data<float>(), out.data<float>() + 7),
            (std::vector<float>{3, 2, 1, 2, 3, 2, 1}));
}

TEST(Pad1d, Errors) {
  Tensor x = Tensor::zeros({2, 4}, DType::F32);
  Tensor out;
  EXPECT_THROW(pad1d({}, x, 4, 0, PadMode::Reflect, out), ShapeError);
  EXPECT_THROW(pad1d({}, x, -1, 0, PadMode::Zero, out), InvalidArgument);
  Tensor xi = Tensor::zeros({2, 4}, DType::I32);
  EXPECT_THROW(pad1d({}, xi, 1, 1, PadMode::Zero, out), DTypeError);
  Tensor empty = Tensor::zeros({2, 0}, DType::F32);
  EXPECT_THROW(pad1d({}, empty, 1, 0, PadMode::Replicate, out), ShapeError);
}

}  // namespace
}  // namespace chatterd::ops
