// Every CUDA op against the CPU backend on random inputs of awkward shapes (odd widths, tails,
// a single row, GQA). The error is normalised: ||cuda - cpu|| / ||cpu|| (relative L2), with a
// tolerance per op and dtype stated at each check. Skips without a GPU.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "backends/cuda/gemm.h"
#include "backends/cuda/graph.h"
#include "cuda_test_util.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/convert.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/softmax.h"

namespace chatterd {
namespace {

// Summation order and the two backends' exp/erf/tanh (a few ulp each) differ; nothing else.
constexpr double kF32Tol = 2e-6;
// x rounded to bf16 for tensor cores (2^-9 relative per value) on the cuBLASLt path.
constexpr double kBf16ActivationTol = 8e-3;

Tensor random_f32(const Shape& shape, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t = Tensor::empty(shape, DType::F32);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

class CudaOps : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
    dc_ = std::make_unique<cuda::DeviceContext>(0);
    gpu_.cuda = dc_.get();
  }
  Tensor up(const Tensor& t) { return dc_->to_device(t); }
  Tensor down(const Tensor& t) { return dc_->to_host(t); }

  std::unique_ptr<cuda::DeviceContext> dc_;
  ExecContext cpu_;
  ExecContext gpu_;
};

TEST_F(CudaOps, Activations) {
  for (const auto kind : {ops::Activation::Relu, ops::Activation::Gelu, ops::Activation::GeluTanh,
                          ops::Activation::Silu, ops::Activation::Mish, ops::Activation::Tanh,
                          ops::Activation::Sigmoid, ops::Activation::Exp}) {
    const Tensor x = random_f32({7, 333}, 1, -6.0f, 6.0f);
    Tensor want;
    ops::activation(cpu_, kind, x, want);
    Tensor dx = up(x);
    Tensor dout;
    ops::activation(gpu_, kind, dx, dout);
    EXPECT_LT(test::relative_l2(down(dout), want), kF32Tol) << static_cast<int>(kind);
    ops::activation(gpu_, kind, dx, dx);  // in place
    EXPECT_LT(test::relative_l2(down(dx), want), kF32Tol) << "in place " << static_cast<int>(kind);
  }
}

TEST_F(CudaOps, BinaryBroadcasts) {
  const std::vector<std::pair<Shape, Shape>> cases = {{{5, 129}, {5, 129}},
                                                      {{5, 129}, {129}},
                                                      {{3, 1, 17}, {1, 4, 17}},
                                                      {{6, 7}, {6, 1}},
                                                      {{1}, {9}}};
  for (const auto& [sa, sb] : cases) {
    const Tensor a = random_f32(sa, 2);
    const Tensor b = random_f32(sb, 3, 0.5f, 2.0f);
    for (int op = 0; op < 4; ++op) {
      Tensor want;
      Tensor got;
      const Tensor da = up(a);
      const Tensor db = up(b);
      switch (op) {
        case 0:
          ops::add(cpu_, a, b, want), ops::add(gpu_, da, db, got);
          break;
        case 1:
          ops::sub(cpu_, a, b, want), ops::sub(gpu_, da, db, got);
          break;
        case 2:
          ops::mul(cpu_, a, b, want), ops::mul(gpu_, da, db, got);
          break;
        default:
          ops::div(cpu_, a, b, want), ops::div(gpu_, da, db, got);
          break;
      }
      EXPECT_LT(test::relative_l2(down(got), want), kF32Tol)
          << sa.to_string() << " op " << op << " " << sb.to_string();
    }
  }
}

TEST_F(CudaOps, Norms) {
  for (const std::int64_t d : {1, 31, 80, 1024, 1500}) {
    const Tensor x = random_f32({5, d}, 4, -3.0f, 5.0f);
    const Tensor g = random_f32({d}, 5, 0.5f, 1.5f);
    const Tensor b = random_f32({d}, 6);
    const Tensor dg = up(g);
    const Tensor db = up(b);
    Tensor want;
    Tensor got;
    ops::layer_norm(cpu_, x, &g, &b, want, 1e-5f);
    ops::layer_norm(gpu_, up(x), &dg, &db, got, 1e-5f);
    EXPECT_LT(test::relative_l2(down(got), want), kF32Tol) << "layer_norm d " << d;
    ops::layer_norm(cpu_, x, nullptr, nullptr, want, 1e-5f);
    ops::layer_norm(gpu_, up(x), nullptr, nullptr, got, 1e-5f);
    EXPECT_LT(test::relative_l2(down(got), want), kF32Tol) << "layer_norm (no affine) d " << d;
    ops::rms_norm(cpu_, x, &g, want, 1e-6f);
    ops::rms_norm(gpu_, up(x), &dg, got, 1e-6f);
    EXPECT_LT(test::relative_l2(down(got), want), kF32Tol) << "rms_norm d " << d;
  }
}

TEST_F(CudaOps, SoftmaxRowLengths) {
  for (const std::int64_t d : {1, 33, 2500}) {
    const Tensor x = random_f32({3, d}, 15, -30.0f, 30.0f);
    Tensor want;
    Tensor got;
    ops::softmax(cpu_, x, want);
    ops::softmax(gpu_, up(x), got);
    EXPECT_LT(test::relative_l2(down(got), want), kF32Tol) << d;
    ops::log_softmax(cpu_, x, want);
    ops::log_softmax(gpu_, up(x), got);
    EXPECT_LT(test::relative_l2(down(got), want), kF32Tol) << "log " << d;
  }
}

TEST_F(CudaOps, SoftmaxAndMaskedRows) {
  Tensor x = random_f32({4, 777}, 7, -20.0f, 20.0f);
  float* p = x.data<float>();
  for (std::int64_t i = 0; i < 777; ++i) p[777 + i] = -INFINITY;  // row 1 fully masked
  for (std::int64_t i = 0; i < 777; i += 3) p[2 * 777 + i] = -INFINITY;
  Tensor want;
  Tensor got;
  ops::softmax(cpu_, x, want);
  ops::softmax(gpu_, up(x), got);
  EXPECT_LT(test::relative_l2(down(got), want), kF32Tol);
  ops::log_softmax(cpu_, x, want);
  ops::log_softmax(gpu_, up(x), got);
  EXPECT_LT(test::relative_l2(down(got), want), kF32Tol);
}

TEST_F(CudaOps, ConvertRoundsLikeTheCpu) {
  Tensor x = random_f32({1001}, 8, -70000.0f, 70000.0f);
  x.data<float>()[0] = NAN;
  x.data<float>()[1] = 1.0f + 1.0f / 256;  // bf16 halfway: ties to even
  for (const DType to : {DType::F16, DType::BF16}) {
    Tensor want;
    Tensor got;
    ops::convert(cpu_, x, to, want);
    ops::convert(gpu_, up(x), to, got);
    const Tensor back = down(got);
    ASSERT_EQ(back.dtype(), to);
    const auto* w = static_cast<const std::uint16_t*>(want.raw_data());
    const auto* g = static_cast<const std::uint16_t*>(back.raw_data());
    int mismatches = 0;
    for (std::int64_t i = 1; i < x.numel(); ++i) mismatches += w[i] != g[i];
    EXPECT_EQ(mismatches, 0) << dtype_name(to);
    Tensor round_trip_want;
    Tensor round_trip_got;
    ops::convert(cpu_, want, DType::F32, round_trip_want);
    ops::convert(gpu_, got, DType::F32, round_trip_got);
    const Tensor rt = down(round_trip_got);
    EXPECT_TRUE(std::isnan(rt.data<float>()[0])) << dtype_name(to);
    EXPECT_EQ(
        std::memcmp(rt.data<float>() + 1, round_trip_want.data<float>() + 1, sizeof(float) * 1000),
        0)
        << dtype_name(to);
  }
}

TEST_F(CudaOps, HalfAndBf16ConvertIntoEachOther) {
  const Tensor x = random_f32({515}, 16, -100.0f, 100.0f);
  for (const auto& [from, to] :
       {std::pair{DType::F16, DType::BF16}, std::pair{DType::BF16, DType::F16}}) {
    Tensor src;
    ops::convert(cpu_, x, from, src);
    Tensor want;
    ops::convert(cpu_, src, to, want);
    Tensor got;
    ops::convert(gpu_, up(src), to, got);
    EXPECT_EQ(std::memcmp(down(got).raw_data(), want.raw_data(), want.nbytes()), 0)
        << dtype_name(from) << " -> " << dtype_name(to);
  }
}

TEST_F(CudaOps, LinearOnUnalignedViews) {
  // x and out 4 bytes past an aligned block: the GEMV's vector loads cannot be used and
  // cuBLASLt must be told the real alignment.
  const std::int64_t m = 3, k = 64, n = 40;
  const Tensor x = random_f32({m, k}, 17);
  const Tensor w = random_f32({n, k}, 18, -0.1f, 0.1f);
  Tensor want;
  ops::linear(cpu_, x, w, nullptr, want);
  Tensor padded_x = random_f32({m * k + 1}, 19);
  std::memcpy(padded_x.data<float>() + 1, x.data<float>(), x.nbytes());
  const Tensor dx = up(padded_x).narrow0(1, m * k).reshape({m, k});
  Tensor out_block = dc_->empty({m * n + 1}, DType::F32);
  Tensor dout = out_block.narrow0(1, m * n).reshape({m, n});
  ops::linear(gpu_, dx, up(w), nullptr, dout);
  EXPECT_LT(test::relative_l2(down(dout), want), 1e-5);
}

TEST_F(CudaOps, GraphReplayMatchesEagerAndKeepsItsScratch) {
  const std::int64_t m = 12, k = 256, n = 384;  // 12 rows: cuBLASLt, which takes scratch
  Tensor w16;
  ops::convert(cpu_, random_f32({n, k}, 20, -0.1f, 0.1f), DType::BF16, w16);
  const Tensor dw = up(w16);
  Tensor dx = up(random_f32({m, k}, 21));
  Tensor dy;
  auto body = [&] {
    ops::linear(gpu_, dx, dw, nullptr, dy);
    ops::gelu_tanh(gpu_, dy, dy);
  };
  body();
  const Tensor eager = down(dy);
  cuda::Graph graph;
  dc_->capture(graph, body);
  ASSERT_TRUE(graph.ready());
  // Scratch freed during capture must not be handed out again while the graph lives.
  const Tensor other = dc_->empty({m, k}, DType::BF16);
  dc_->fill_zero(const_cast<Tensor&>(other));
  graph.launch(dc_->stream());
  EXPECT_LT(test::relative_l2(down(dy), eager), 1e-6);
  // New inputs at the same address: the replay sees them.
  const Tensor x2 = random_f32({m, k}, 22);
  Tensor want;
  ops::linear(gpu_, up(x2), dw, nullptr, want);
  ops::gelu_tanh(gpu_, want, want);
  Tensor staged = up(x2);
  dc_->copy(staged, dx);
  graph.launch(dc_->stream());
  EXPECT_LT(test::relative_l2(down(dy), down(want)), 1e-6);
}

TEST_F(CudaOps, LinearEveryPathAndWeightType) {
  struct Case {
    std::int64_t m, k, n;
  };
  for (const Case c : {Case{1, 1024, 3072}, Case{3, 64, 100}, Case{8, 1024, 1025}, Case{11, 96, 33},
                       Case{40, 1024, 4096}, Case{2, 20, 7} /* k % 8 != 0: cuBLASLt */}) {
    const Tensor x = random_f32({c.m, c.k}, 9);
    const Tensor w32 = random_f32({c.n, c.k}, 10, -0.1f, 0.1f);
    const Tensor bias = random_f32({c.n}, 11);
    const Tensor dbias = up(bias);
    for (const DType wt : {DType::F32, DType::F16, DType::BF16}) {
      Tensor w;
      ops::convert(cpu_, w32, wt, w);
      Tensor want;
      ops::linear(cpu_, x, w, &bias, want);
      const Tensor dw = up(w);
      for (const auto path :
           {ops::LinearPath::Auto, ops::LinearPath::RowKernels, ops::LinearPath::Gemm}) {
        Tensor got;
        ops::linear(gpu_, up(x), dw, &dbias, got, ops::WeightLayout::OutIn, path);
        // The GEMV keeps x in f32; cuBLASLt rounds x to the weight's 16-bit type.
        const bool gemv = c.k % 8 == 0 && (path == ops::LinearPath::RowKernels ||
                                           (path == ops::LinearPath::Auto && c.m <= 8));
        const double tol = wt == DType::F32 || gemv ? 1e-5 : kBf16ActivationTol;
        EXPECT_LT(test::relative_l2(down(got), want), tol)
            << c.m << "x" << c.k << "x" << c.n << " " << dtype_name(wt) << " path "
            << static_cast<int>(path);
      }
    }
  }
}

TEST_F(CudaOps, GemmPlansAreReusedPerShapeAndAlignment) {
  const std::int64_t m = 40, k = 256, n = 96;
  const Tensor x = random_f32({m, k}, 31);
  Tensor w;
  ops::convert(cpu_, random_f32({n, k}, 32, -0.1f, 0.1f), DType::BF16, w);
  Tensor want;
  ops::linear(cpu_, x, w, nullptr, want);
  const Tensor dx = up(x);
  const Tensor dw = up(w);
  const std::int64_t before = dc_->gemm_plans().built();
  Tensor first;
  Tensor second;
  ops::linear(gpu_, dx, dw, nullptr, first, ops::WeightLayout::OutIn, ops::LinearPath::Gemm);
  ops::linear(gpu_, dx, dw, nullptr, second, ops::WeightLayout::OutIn, ops::LinearPath::Gemm);
  EXPECT_EQ(dc_->gemm_plans().built(), before + 1);  // the second call found the first's plan
  EXPECT_LT(test::relative_l2(down(second), want), kBf16ActivationTol);
  EXPECT_EQ(test::relative_l2(down(second), down(first)), 0.0);
  // Another row count, and an output 4 bytes off its block's alignment: new plans.
  Tensor fewer;
  ops::linear(gpu_, dx.narrow0(0, m - 1), dw, nullptr, fewer, ops::WeightLayout::OutIn,
              ops::LinearPath::Gemm);
  Tensor out_block = dc_->empty({m * n + 1}, DType::F32);
  Tensor shifted = out_block.narrow0(1, m * n).reshape({m, n});
  ops::linear(gpu_, dx, dw, nullptr, shifted, ops::WeightLayout::OutIn, ops::LinearPath::Gemm);
  EXPECT_EQ(dc_->gemm_plans().built(), before + 3);
  EXPECT_LT(test::relative_l2(down(shifted), want), kBf16ActivationTol);
}

TEST_F(CudaOps, AttentionCausalGqaMaskAndF16Keys) {
  struct Case {
    std::int64_t tq, tk, hq, hkv, d;
    bool causal;
  };
  for (const Case c : {Case{1, 1, 16, 16, 64, true}, Case{1, 377, 16, 16, 64, true},
                       Case{3, 300, 8, 2, 128, true}, Case{17, 17, 4, 4, 80, true},
                       Case{5, 260, 6, 3, 64, false}, Case{1, 1500, 16, 16, 64, true}}) {
    const Tensor q = random_f32({c.tq, c.hq, c.d}, 12, -2.0f, 2.0f);
    const Tensor k = random_f32({c.tk, c.hkv, c.d}, 13, -2.0f, 2.0f);
    const Tensor v = random_f32({c.tk, c.hkv, c.d}, 14);
    Tensor mask = Tensor::empty({c.tk}, DType::Bool);
    for (std::int64_t j = 0; j < c.tk; ++j) mask.data<bool>()[j] = j % 7 != 3;
    const Tensor dmask = up(mask);
    for (const bool masked : {false, true}) {
      ops::AttentionOptions o;
      o.causal = c.causal;
      ops::AttentionOptions od = o;
      if (masked) {
        o.key_padding_mask = &mask;
        od.key_padding_mask = &dmask;
      }
      for (const DType kv : {DType::F32, DType::F16}) {
        // The CPU op takes f32 keys: give it the f16-rounded values the GPU reads.
        Tensor k16;
        Tensor v16;
        ops::convert(cpu_, k, kv, k16);
        ops::convert(cpu_, v, kv, v16);
        Tensor kr;
        Tensor vr;
        ops::convert(cpu_, k16, DType::F32, kr);
        ops::convert(cpu_, v16, DType::F32, vr);
        Tensor want;
        ops::attention(cpu_, q, kr, vr, o, want);
        Tensor got;
        ops::attention(gpu_, up(q), up(k16), up(v16), od, got);
        EXPECT_LT(test::relative_l2(down(got), want), 1e-5)
            << c.tq << "x" << c.tk << " heads " << c.hq << "/" << c.hkv << " d " << c.d
            << " masked " << masked << " " << dtype_name(kv);
      }
    }
  }
}

TEST_F(CudaOps, AttentionRowsWithNothingVisibleAndMaskedTiles) {
  // Keys 0..129 masked: the first 128-key tile is entirely invisible (the kernel's skip path);
  // with q_offset 0 and causal, query i sees keys <= i, all masked: zero rows.
  const std::int64_t tk = 300;
  const Tensor q = random_f32({4, 4, 64}, 23);
  const Tensor k = random_f32({tk, 2, 64}, 24);
  const Tensor v = random_f32({tk, 2, 64}, 25);
  Tensor mask = Tensor::empty({tk}, DType::Bool);
  for (std::int64_t j = 0; j < tk; ++j) mask.data<bool>()[j] = j >= 130;
  const Tensor dmask = up(mask);
  for (const std::int64_t q_offset : {0, 200}) {
    ops::AttentionOptions o;
    o.causal = true;
    o.q_offset = q_offset;
    o.key_padding_mask = &mask;
    ops::AttentionOptions od = o;
    od.key_padding_mask = &dmask;
    Tensor want;
    ops::attention(cpu_, q, k, v, o, want);
    Tensor got;
    ops::attention(gpu_, up(q), up(k), up(v), od, got);
    const Tensor host = down(got);
    if (q_offset == 0) {
      for (std::int64_t i = 0; i < host.numel(); ++i) ASSERT_EQ(host.data<float>()[i], 0.0f);
    }
    EXPECT_LT(test::relative_l2(host, want), 1e-5) << "q_offset " << q_offset;
  }
}

}  // namespace
}  // namespace chatterd
