// The CUDA ops the vocoder adds (HiFT: leaky ReLU, ELU, scale, add_scalar, Snake, pad1d,
// conv_transpose1d, copy; the S3Gen encoder: rel-pos attention, nearest upsampling) against the
// CPU backend on awkward shapes. Normalised error ||cuda - cpu|| / ||cpu||;
// padding and copies move bytes and must match exactly. Skips without a GPU.

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <tuple>
#include <vector>

#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "chatterd/core/error.h"
#include "cuda_test_util.h"
#include "ops/activation.h"
#include "ops/conv1d.h"
#include "ops/conv_transpose1d.h"
#include "ops/layout.h"
#include "ops/rel_pos_attention.h"
#include "ops/upsample.h"

namespace chatterd {
namespace {

// expf/sinf against the CPU's vector exp and Cody-Waite sin^2: a few ulp per value.
constexpr double kF32VocoderOpTol = 2e-6;

class CudaVocoderOps : public test::DeviceOpsTest {
 protected:
  CudaVocoderOps() : DeviceOpsTest(5) {}
};

TEST_F(CudaVocoderOps, ParameterisedActivations) {
  const Tensor x = test::random_uniform({3, 7, 129}, rng_, 6.0f);
  Tensor want;
  Tensor got;
  ops::leaky_relu(cpu_, x, want, 0.1f);
  ops::leaky_relu(gpu_, up(x), got, 0.1f);
  EXPECT_LT(test::relative_l2(down(got), want), kF32VocoderOpTol) << "leaky_relu";
  ops::elu(cpu_, x, want, 1.0f);
  ops::elu(gpu_, up(x), got, 1.0f);
  EXPECT_LT(test::relative_l2(down(got), want), kF32VocoderOpTol) << "elu";
  ops::scale(cpu_, x, 0.37f, want);
  ops::scale(gpu_, up(x), 0.37f, got);
  EXPECT_LT(test::relative_l2(down(got), want), kF32VocoderOpTol) << "scale";
  ops::add_scalar(cpu_, x, -1.5f, want);
  ops::add_scalar(gpu_, up(x), -1.5f, got);
  EXPECT_LT(test::relative_l2(down(got), want), kF32VocoderOpTol) << "add_scalar";
  Tensor in_place = up(x);
  ops::leaky_relu(gpu_, in_place, in_place, 0.1f);
  ops::leaky_relu(cpu_, x, want, 0.1f);
  EXPECT_LT(test::relative_l2(down(in_place), want), kF32VocoderOpTol) << "leaky_relu in place";
}

TEST_F(CudaVocoderOps, SnakePerChannel) {
  // HiFT's range: activations of a few units, alphas around 1 (and a tiny one: 1 / (a + 1e-9)).
  const Tensor x = test::random_uniform({2, 9, 301}, rng_, 40.0f);
  Tensor alpha = test::random_uniform({9}, rng_, 1.0f);
  alpha.data<float>()[3] = 1e-3f;
  const Tensor dalpha = up(alpha);
  Tensor want;
  Tensor got;
  ops::snake(cpu_, x, alpha, want);
  ops::snake(gpu_, up(x), dalpha, got);
  EXPECT_LT(test::relative_l2(down(got), want), kF32VocoderOpTol);
  EXPECT_THROW(ops::snake(gpu_, up(x), alpha, got), Error);  // host alpha
}

TEST_F(CudaVocoderOps, Pad1dModes) {
  const Tensor x = test::random_uniform({2, 5, 17}, rng_, 1.0f);
  for (const auto mode : {ops::PadMode::Zero, ops::PadMode::Reflect, ops::PadMode::Replicate}) {
    for (const auto& [l, r] : std::vector<std::pair<int, int>>{{1, 0}, {0, 3}, {4, 2}}) {
      Tensor want;
      Tensor got;
      ops::pad1d(cpu_, x, l, r, mode, want);
      ops::pad1d(gpu_, up(x), l, r, mode, got);
      const Tensor g = down(got);
      EXPECT_TRUE(g.shape() == want.shape() &&
                  std::memcmp(g.raw_data(), want.raw_data(), want.nbytes()) == 0)
          << static_cast<int>(mode) << " " << l << "," << r;
    }
  }
}

TEST_F(CudaVocoderOps, ConvTranspose1dMatchesTheHost) {
  struct Case {
    std::int64_t c_in, c_out, length, kernel;
    ops::ConvTranspose1dOptions o;
  };
  const std::vector<Case> cases = {
      {64, 32, 23, 16, {.stride = 8, .padding = 4}},  // HiFT ups: k 2u, pad (k - u) / 2
      {32, 16, 40, 11, {.stride = 5, .padding = 3}},
      {16, 8, 31, 7, {.stride = 3, .padding = 2}},
      {6, 9, 10, 3, {.stride = 2, .padding = 0, .output_padding = 1}},
      {8, 8, 12, 3, {.stride = 1, .padding = 1, .dilation = 2}},
      {8, 12, 9, 4, {.stride = 2, .padding = 1, .groups = 4}},
  };
  for (const Case& c : cases) {
    const Tensor x = test::random_uniform({2, c.c_in, c.length}, rng_, 1.0f);
    const Tensor w = test::random_uniform({c.c_in, c.c_out / c.o.groups, c.kernel}, rng_, 0.3f);
    const Tensor bias = test::random_uniform({c.c_out}, rng_, 0.5f);
    const Tensor db = up(bias);
    Tensor want;
    Tensor got;
    ops::conv_transpose1d(cpu_, x, w, &bias, c.o, want);
    ops::conv_transpose1d(gpu_, up(x), up(w), &db, c.o, got);
    EXPECT_LT(test::relative_l2(down(got), want), kF32VocoderOpTol)
        << c.c_in << "->" << c.c_out << " k" << c.kernel << " s" << c.o.stride;
  }
}

TEST_F(CudaVocoderOps, RelPosAttentionMatchesTheHost) {
  // The S3Gen encoder's shape (8 heads x 64) at odd lengths, and a small head.
  for (const auto& [t, heads, dk] :
       std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>>{
           {1, 8, 64}, {37, 8, 64}, {301, 8, 64}, {50, 3, 20}, {9, 2, 200}}) {
    const std::int64_t d = heads * dk;
    const Tensor q = test::random_uniform({t, d}, rng_, 1.0f);
    const Tensor k = test::random_uniform({t, d}, rng_, 1.0f);
    const Tensor v = test::random_uniform({t, d}, rng_, 1.0f);
    const Tensor p = test::random_uniform({2 * t - 1, d}, rng_, 1.0f);
    const Tensor u = test::random_uniform({heads, dk}, rng_, 0.5f);
    const Tensor bv = test::random_uniform({heads, dk}, rng_, 0.5f);
    Tensor want;
    Tensor got;
    ops::rel_pos_attention(cpu_, q, k, v, p, u, bv, heads, want);
    const Tensor dkey = up(k), dv = up(v), dp = up(p), du = up(u), dbv = up(bv);
    ops::rel_pos_attention(gpu_, up(q), dkey, dv, dp, du, dbv, heads, got);
    EXPECT_LT(test::relative_l2(down(got), want), kF32VocoderOpTol)
        << "T " << t << " heads " << heads;
  }
}

TEST_F(CudaVocoderOps, UpsampleNearest) {
  const Tensor x = test::random_uniform({2, 5, 13}, rng_, 1.0f);
  Tensor want;
  Tensor got;
  ops::upsample_nearest1d(cpu_, x, 2, want);
  ops::upsample_nearest1d(gpu_, up(x), 2, got);
  const Tensor g = down(got);
  EXPECT_TRUE(g.shape() == want.shape() &&
              std::memcmp(g.raw_data(), want.raw_data(), want.nbytes()) == 0);
}

TEST_F(CudaVocoderOps, CopyIntoAFreshAndAnExistingTensor) {
  const Tensor x = test::random_uniform({4, 33}, rng_, 1.0f);
  const Tensor dx = up(x);
  Tensor fresh;
  ops::copy(gpu_, dx, fresh);
  Tensor existing = up(test::random_uniform({4, 33}, rng_, 1.0f));
  ops::copy(gpu_, dx, existing);
  for (const Tensor* t : {&fresh, &existing}) {
    const Tensor h = down(*t);
    EXPECT_EQ(std::memcmp(h.raw_data(), x.raw_data(), x.nbytes()), 0);
  }
}

}  // namespace
}  // namespace chatterd
