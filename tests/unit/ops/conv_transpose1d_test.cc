#include "ops/conv_transpose1d.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "chatterd/core/error.h"
#include "core/thread_pool.h"
#include "unit/ops/ops_test_util.h"

namespace chatterd::ops {
namespace {

// Naive scatter: every input sample adds w * x at t * stride + k * dilation - padding.
std::vector<float> reference_conv_transpose1d(const Tensor& x, const Tensor& w, const Tensor* bias,
                                              const ConvTranspose1dOptions& o) {
  const std::int64_t B = x.dim(0), Ci = x.dim(1), T = x.dim(2), Cog = w.dim(1), K = w.dim(2);
  const std::int64_t Cig = Ci / o.groups, Co = Cog * o.groups;
  const std::int64_t To =
      (T - 1) * o.stride - 2 * o.padding + o.dilation * (K - 1) + o.output_padding + 1;
  std::vector<double> acc(static_cast<std::size_t>(B * Co * To), 0.0);
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t ci = 0; ci < Ci; ++ci) {
      const std::int64_t g = ci / Cig;
      for (std::int64_t c = 0; c < Cog; ++c) {
        for (std::int64_t t = 0; t < T; ++t) {
          for (std::int64_t k = 0; k < K; ++k) {
            const std::int64_t pos = t * o.stride + k * o.dilation - o.padding;
            if (pos < 0 || pos >= To) continue;
            acc[(b * Co + g * Cog + c) * To + pos] +=
                double{x.data<float>()[(b * Ci + ci) * T + t]} *
                w.data<float>()[(ci * Cog + c) * K + k];
          }
        }
      }
    }
  }
  std::vector<float> out(acc.size());
  for (std::size_t i = 0; i < acc.size(); ++i) {
    const std::int64_t co = (static_cast<std::int64_t>(i) / To) % Co;
    out[i] = static_cast<float>(acc[i] + (bias != nullptr ? bias->data<float>()[co] : 0.0));
  }
  return out;
}

struct ConvTransposeCase {
  std::int64_t b, ci, co, t, k;
  ConvTranspose1dOptions o;
  bool bias;
};

TEST(ConvTranspose1d, MatchesNaiveScatter) {
  std::mt19937 rng(23);
  const ConvTransposeCase cases[] = {
      {1, 64, 32, 13, 16, {8, 4, 0, 1, 1}, true},  // HiFT ups[0] shape (512->256 k16 s8 p4)
      {1, 32, 24, 21, 11, {5, 3, 0, 1, 1}, true},  // HiFT ups[1] shape (256->128 k11 s5 p3)
      {1, 24, 20, 37, 7, {3, 2, 0, 1, 1}, false},  // HiFT ups[2] shape (128->64 k7 s3 p2)
      {2, 5, 3, 9, 4, {2, 1, 1, 1, 1}, true},      // output_padding
      {1, 6, 4, 11, 3, {2, 0, 0, 3, 2}, true},     // dilation 3, groups 2
      {2, 3, 7, 300, 5, {1, 2, 0, 1, 1}, true},    // stride 1, several time tiles
      {1, 4, 5, 1, 3, {3, 0, 2, 1, 1}, false},     // single input sample
      {1, 6, 9, 7, 4, {4, 1, 0, 1, 3}, true},      // groups 3
  };
  ThreadPool pool(3);
  for (const ConvTransposeCase& c : cases) {
    Tensor x = test::random_f32({c.b, c.ci, c.t}, rng);
    Tensor w = test::random_f32({c.ci, c.co / c.o.groups, c.k}, rng);
    Tensor bias = test::random_f32({c.co}, rng);
    const Tensor* bp = c.bias ? &bias : nullptr;
    const auto want = reference_conv_transpose1d(x, w, bp, c.o);
    const std::string what =
        fmt::format("b={} ci={} co={} t={} k={} s={} p={} op={} d={} g={}", c.b, c.ci, c.co, c.t,
                    c.k, c.o.stride, c.o.padding, c.o.output_padding, c.o.dilation, c.o.groups);
    Tensor out;
    conv_transpose1d({}, x, w, bp, c.o, out);
    ASSERT_EQ(out.dim(2), conv_transpose1d_output_length(c.t, c.k, c.o)) << what;
    ASSERT_EQ(out.numel(), static_cast<std::int64_t>(want.size())) << what;
    for (std::size_t i = 0; i < want.size(); ++i) {
      ASSERT_NEAR(out.data<float>()[i], want[i], 1e-4f) << what << " at " << i;
    }
    Tensor pout;
    conv_transpose1d(ExecContext{&pool}, x, w, bp, c.o, pout);
    for (std::int64_t i = 0; i < out.numel(); ++i) {
      ASSERT_EQ(out.data<float>()[i], pout.data<float>()[i]) << what;
    }
  }
}

TEST(ConvTranspose1d, HiftLengths) {
  // F -> 8F -> 40F -> 120F for F = 100.
  EXPECT_EQ(conv_transpose1d_output_length(100, 16, {8, 4, 0, 1, 1}), 800);
  EXPECT_EQ(conv_transpose1d_output_length(800, 11, {5, 3, 0, 1, 1}), 4000);
  EXPECT_EQ(conv_transpose1d_output_length(4000, 7, {3, 2, 0, 1, 1}), 12000);
}

TEST(ConvTranspose1d, Errors) {
  Tensor x = Tensor::zeros({1, 4, 5}, DType::F32);
  Tensor w = Tensor::zeros({4, 2, 3}, DType::F32);
  Tensor out;
  EXPECT_THROW(conv_transpose1d({}, x, w, nullptr, {2, 0, 2, 1, 1}, out), InvalidArgument);
  EXPECT_THROW(conv_transpose1d({}, x, w, nullptr, {0, 0, 0, 1, 1}, out), InvalidArgument);
  EXPECT_THROW(conv_transpose1d({}, x, w, nullptr, {1, 0, 0, 1, 3}, out), ShapeError);  // 4 % 3
  Tensor w5 = Tensor::zeros({5, 2, 3}, DType::F32);
  EXPECT_THROW(conv_transpose1d({}, x, w5, nullptr, {}, out), ShapeError);
  Tensor bias = Tensor::zeros({3}, DType::F32);
  EXPECT_THROW(conv_transpose1d({}, x, w, &bias, {}, out), ShapeError);
  EXPECT_THROW(conv_transpose1d({}, x, w, nullptr, {1, 10, 0, 1, 1}, out), ShapeError);
  Tensor xi = Tensor::zeros({1, 4, 5}, DType::I32);
  EXPECT_THROW(conv_transpose1d({}, xi, w, nullptr, {}, out), DTypeError);
}

}  // namespace
}  // namespace chatterd::ops
