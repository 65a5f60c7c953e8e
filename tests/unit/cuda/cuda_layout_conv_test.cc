// The CUDA layout and convolution ops (permute, concat, fill_zero, conv1d) against the CPU
// backend on awkward shapes: odd lengths and channel counts, tails of the 32 x 32 transpose
// tile, strides, dilations, asymmetric padding, groups and bf16 weights. Layout ops move bytes,
// so they must match exactly; the f32 conv differs only in summation order. Skips without a GPU.

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "chatterd/core/error.h"
#include "cuda_test_util.h"
#include "ops/conv1d.h"
#include "ops/convert.h"
#include "ops/device.h"
#include "ops/layout.h"

namespace chatterd {
namespace {

// f32 GEMM (no TF32) vs OpenBLAS: summation order only.
constexpr double kF32ConvTol = 2e-6;
// bf16 weights and activations rounded for tensor cores (2^-9 relative each), f32 sums.
constexpr double kBf16ConvTol = 8e-3;

class CudaLayoutConv : public test::DeviceOpsTest {
 protected:
  CudaLayoutConv() : DeviceOpsTest(7) {}
};

// Byte-exact equality of two host tensors of the same shape and dtype.
bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

TEST_F(CudaLayoutConv, PermuteMatchesTheHostExactly) {
  struct Case {
    Shape shape;
    std::vector<int> perm;
  };
  const std::vector<Case> cases = {
      {{2, 80, 37}, {0, 2, 1}},      // NCT -> NTC with tile tails
      {{3, 33, 65}, {0, 2, 1}},      // both sides past one tile
      {{1, 1, 300}, {0, 2, 1}},      // a single row
      {{5, 7}, {1, 0}},              // rank 2
      {{2, 3, 4, 5}, {3, 1, 0, 2}},  // general
      {{4, 6, 9}, {1, 0, 2}},        // last axis kept
  };
  for (const Case& c : cases) {
    const Tensor x = test::random_uniform(c.shape, rng_, 3.0f);
    Tensor want;
    Tensor got;
    ops::permute(cpu_, x, c.perm, want);
    ops::permute(gpu_, up(x), c.perm, got);
    EXPECT_TRUE(same_bytes(down(got), want)) << c.shape.to_string();
  }
  // 2-byte elements take the general kernel.
  const Tensor x = test::random_uniform({3, 17, 40}, rng_, 1.0f);
  Tensor h;
  ops::convert(cpu_, x, DType::BF16, h);
  Tensor want;
  Tensor got;
  ops::transpose(cpu_, h, 1, 2, want);
  ops::transpose(gpu_, up(h), 1, 2, got);
  EXPECT_TRUE(same_bytes(down(got), want));
}

TEST_F(CudaLayoutConv, ConcatMatchesTheHostExactly) {
  const Tensor a = test::random_uniform({2, 80, 13}, rng_, 1.0f);
  const Tensor b = test::random_uniform({2, 7, 13}, rng_, 1.0f);
  const Tensor c = test::random_uniform({2, 1, 13}, rng_, 1.0f);
  const Tensor host[] = {a, b, c};
  const Tensor dev[] = {up(a), up(b), up(c)};
  Tensor want;
  Tensor got;
  ops::concat(cpu_, host, 1, want);
  ops::concat(gpu_, dev, 1, got);
  EXPECT_TRUE(same_bytes(down(got), want));
  const Tensor d = test::random_uniform({2, 80, 5}, rng_, 1.0f);
  const Tensor host_t[] = {a, d};
  const Tensor dev_t[] = {up(a), up(d)};
  ops::concat(cpu_, host_t, 2, want);
  ops::concat(gpu_, dev_t, 2, got);
  EXPECT_TRUE(same_bytes(down(got), want));
  // A host operand among device ones is refused, not read through a device pointer.
  const Tensor mixed[] = {up(a), b};
  EXPECT_THROW(ops::concat(gpu_, mixed, 1, got), Error);
}

TEST_F(CudaLayoutConv, FillZeroClearsAView) {
  const Tensor x = test::random_uniform({4, 9}, rng_, 1.0f);
  Tensor d = up(x);
  Tensor rows = d.narrow0(1, 2);
  ops::fill_zero(gpu_, rows);
  Tensor want = x.clone();
  Tensor host_rows = want.narrow0(1, 2);
  ops::fill_zero(cpu_, host_rows);
  EXPECT_TRUE(same_bytes(down(d), want));
}

struct ConvCase {
  std::int64_t batch, c_in, c_out, length, kernel;
  ops::Conv1dOptions o;
};

TEST_F(CudaLayoutConv, Conv1dMatchesTheHost) {
  const std::vector<ConvCase> cases = {
      {2, 80, 64, 37, 3, {.pad_left = 2}},               // causal k3 (S3Gen)
      {2, 64, 64, 50, 3, {.stride = 2, .pad_left = 2}},  // strided
      {1, 33, 17, 129, 1, {}},                           // 1x1
      {2, 16, 24, 40, 7, {.dilation = 3, .pad_left = 9, .pad_right = 9}},
      {1, 12, 20, 31, 5, {.pad_left = 3, .pad_right = 1}},                // asymmetric
      {2, 24, 24, 45, 3, {.groups = 24, .pad_left = 1, .pad_right = 1}},  // depthwise
      {1, 12, 18, 30, 3, {.groups = 3, .pad_left = 2}},                   // grouped
  };
  for (const ConvCase& c : cases) {
    const Tensor x = test::random_uniform({c.batch, c.c_in, c.length}, rng_, 1.0f);
    const Tensor w = test::random_uniform({c.c_out, c.c_in / c.o.groups, c.kernel}, rng_, 0.3f);
    const Tensor bias = test::random_uniform({c.c_out}, rng_, 0.5f);
    const Tensor dw = up(w);
    const Tensor db = up(bias);
    Tensor want;
    Tensor got;
    ops::conv1d(cpu_, x, w, &bias, c.o, want);
    ops::conv1d(gpu_, up(x), dw, &db, c.o, got);
    EXPECT_LT(test::relative_l2(down(got), want), kF32ConvTol)
        << c.c_in << "->" << c.c_out << " k" << c.kernel << " groups " << c.o.groups;
    ops::conv1d(cpu_, x, w, nullptr, c.o, want);
    ops::conv1d(gpu_, up(x), dw, nullptr, c.o, got);
    EXPECT_LT(test::relative_l2(down(got), want), kF32ConvTol) << "no bias, k" << c.kernel;
    if (c.o.groups != 1) continue;
    // bf16 weights (the estimator's matrices): against the CPU with the same rounded weights.
    Tensor w16;
    ops::convert(cpu_, w, DType::BF16, w16);
    Tensor w_rounded;
    ops::convert(cpu_, w16, DType::F32, w_rounded);
    ops::conv1d(cpu_, x, w_rounded, &bias, c.o, want);
    ops::conv1d(gpu_, up(x), up(w16), &db, c.o, got);
    EXPECT_LT(test::relative_l2(down(got), want), kBf16ConvTol) << "bf16 k" << c.kernel;
  }
}

TEST_F(CudaLayoutConv, Conv1dRefusesMixedDevicesAndGroupedBf16) {
  const Tensor x = test::random_uniform({1, 8, 10}, rng_, 1.0f);
  const Tensor w = test::random_uniform({8, 8, 3}, rng_, 1.0f);
  Tensor out;
  EXPECT_THROW(ops::conv1d(gpu_, up(x), w, nullptr, {}, out), Error);  // host weight
  EXPECT_THROW(ops::conv1d(cpu_, x, up(w), nullptr, {}, out), Error);  // device weight
  Tensor w16;
  ops::convert(cpu_, test::random_uniform({8, 1, 3}, rng_, 1.0f), DType::BF16, w16);
  EXPECT_THROW(ops::conv1d(gpu_, up(x), up(w16), nullptr, {.groups = 8}, out), Error);
}

}  // namespace
}  // namespace chatterd
