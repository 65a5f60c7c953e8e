// linear_bf16 and conv1d_bf16 against double-precision sums of the bf16-rounded operands (the
// exact result of the reduced-precision path up to f32 summation), on awkward shapes: odd input
// features, output features that leave a partial panel, row counts that leave partial tiles and
// items, strides, dilations, asymmetric padding, batches. Plus the accuracy the rounding costs
// against the f32 ops, which is what a user of vocoder_dtype = bf16 gets.
#include "ops/gemm_bf16.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "backends/cpu/gemm_bf16.h"
#include "core/thread_pool.h"
#include "ops/attention.h"
#include "ops/conv1d.h"
#include "ops/linear.h"
#include "ops_test_util.h"

namespace chatterd::ops {
namespace {

using test::random_f32;

double rb(float v) {
  return bf16_to_float(float_to_bf16(v));
}

// Both tiles: the AVX-512 vdpbf16ps tile (amx false) and AMX blocks (amx true, where the CPU has
// AMX-BF16).
class GemmBf16Op : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ctx_.pool = &pool_;
    ctx_.amx = GetParam();
    if (!bf16_gemm_available(ctx_)) GTEST_SKIP() << "this CPU has no AVX512_BF16";
    if (GetParam() && !cpu::amx_bf16_available()) GTEST_SKIP() << "this CPU has no AMX-BF16";
  }
  ThreadPool pool_{2};
  ExecContext ctx_;
};

TEST_P(GemmBf16Op, LinearMatchesRoundedReference) {
  struct Case {
    std::int64_t m, k, n;
    WeightLayout layout;
  };
  for (const Case c :
       {Case{1, 1, 1, WeightLayout::OutIn}, Case{5, 3, 33, WeightLayout::OutIn},
        Case{67, 129, 70, WeightLayout::OutIn}, Case{130, 256, 64, WeightLayout::InOut},
        Case{9, 1024, 31, WeightLayout::OutIn}, Case{100, 96, 65, WeightLayout::OutIn}}) {
    const Tensor x = random_f32({c.m, c.k}, 1);
    const bool out_in = c.layout == WeightLayout::OutIn;
    const Tensor w = random_f32(out_in ? Shape{c.n, c.k} : Shape{c.k, c.n}, 2);
    const Tensor bias = random_f32({c.n}, 3);
    const PackedBf16Weight p = pack_linear_bf16(ctx_, w, c.layout);
    Tensor out;
    linear_bf16(ctx_, x, p, &bias, out);
    ASSERT_EQ(out.shape(), (Shape{c.m, c.n}));
    const float* px = x.data<float>();
    const float* pw = w.data<float>();
    std::vector<double> want(static_cast<std::size_t>(c.m * c.n)), tol(want.size());
    for (std::int64_t i = 0; i < c.m; ++i) {
      for (std::int64_t o = 0; o < c.n; ++o) {
        double s = bias.data<float>()[o], mag = std::fabs(s);
        for (std::int64_t j = 0; j < c.k; ++j) {
          const double t = rb(px[i * c.k + j]) * rb(out_in ? pw[o * c.k + j] : pw[j * c.n + o]);
          s += t;
          mag += std::fabs(t);
        }
        want[static_cast<std::size_t>(i * c.n + o)] = s;
        tol[static_cast<std::size_t>(i * c.n + o)] = 1e-6 * mag;
      }
    }
    test::expect_close(out, want, 0.0, tol, fmt::format("linear m {} k {} n {}", c.m, c.k, c.n));
  }
}

TEST_P(GemmBf16Op, Conv1dMatchesRoundedReference) {
  struct Case {
    std::int64_t b, ci, t, co, k;
    Conv1dOptions o;
  };
  const Case cases[] = {
      {1, 3, 5, 2, 3, {.pad_left = 2}},                                     // causal, tiny
      {2, 80, 37, 70, 3, {.pad_left = 1, .pad_right = 1}},                  // batch, partial panel
      {1, 64, 100, 32, 7, {.dilation = 3, .pad_left = 9, .pad_right = 9}},  // HiFT resblock
      {1, 33, 50, 40, 4, {.stride = 2, .pad_left = 1}},                     // odd channels, stride
      {1, 256, 70, 256, 1, {}},                                             // 1x1
      {2, 64, 129, 96, 3, {.pad_left = 2}},  // several 32-frame blocks, batch, partial block
  };
  for (const Case& c : cases) {
    const Tensor x = random_f32({c.b, c.ci, c.t}, 4);
    const Tensor w = random_f32({c.co, c.ci, c.k}, 5, -0.3f, 0.3f);
    const Tensor bias = random_f32({c.co}, 6);
    const PackedBf16Weight p = pack_conv1d_bf16(ctx_, w);
    Tensor out;
    conv1d_bf16(ctx_, x, p, &bias, c.o, out);
    const std::int64_t to = conv1d_output_length(c.t, c.k, c.o);
    ASSERT_EQ(out.shape(), (Shape{c.b, c.co, to}));
    const float* px = x.data<float>();
    const float* pw = w.data<float>();
    std::vector<double> want(static_cast<std::size_t>(out.numel())), tol(want.size());
    for (std::int64_t b = 0; b < c.b; ++b) {
      for (std::int64_t o = 0; o < c.co; ++o) {
        for (std::int64_t u = 0; u < to; ++u) {
          double s = bias.data<float>()[o], mag = std::fabs(s);
          for (std::int64_t i = 0; i < c.ci; ++i) {
            for (std::int64_t q = 0; q < c.k; ++q) {
              const std::int64_t src = u * c.o.stride + q * c.o.dilation - c.o.pad_left;
              if (src < 0 || src >= c.t) continue;
              const double v =
                  rb(px[(b * c.ci + i) * c.t + src]) * rb(pw[(o * c.ci + i) * c.k + q]);
              s += v;
              mag += std::fabs(v);
            }
          }
          const auto at = static_cast<std::size_t>((b * c.co + o) * to + u);
          want[at] = s;
          tol[at] = 1e-6 * mag;
        }
      }
    }
    test::expect_close(out, want, 0.0, tol,
                       fmt::format("conv ci {} t {} co {} k {}", c.ci, c.t, c.co, c.k));
  }
}

// The price of bf16: against the f32 ops on unit-scale data the error stays within a few bf16
// ulps of the result's scale (2^-8 relative rounding of each operand, averaging over the sum).
TEST_P(GemmBf16Op, ErrorAgainstF32IsBf16Sized) {
  const Tensor x = random_f32({1, 256, 200}, 7);
  const Tensor w = random_f32({256, 256, 3}, 8, -0.06f, 0.06f);
  Tensor ref, got;
  conv1d(ctx_, x, w, nullptr, {.pad_left = 2}, ref);
  conv1d_bf16(ctx_, x, pack_conv1d_bf16(ctx_, w), nullptr, {.pad_left = 2}, got);
  double err = 0.0, scale = 0.0;
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    err =
        std::max(err, std::fabs(static_cast<double>(got.data<float>()[i]) - ref.data<float>()[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(ref.data<float>()[i])));
  }
  EXPECT_LT(err / scale, 1e-2);
  EXPECT_GT(err / scale, 1e-5);  // it really is the reduced-precision path
}

// attention_bf16 against ops::attention on the same bf16-rounded q, k, v: the remaining
// difference is the probabilities' rounding to bf16 (and f32 order), a few 1e-3 of the output's
// scale; odd head dims and key counts, partial panels and query blocks, a padding mask with one
// query that sees keys and a fully masked case.
TEST_P(GemmBf16Op, AttentionMatchesF32AttentionOfRoundedInputs) {
  struct Case {
    std::int64_t t, tk, h, d;
    bool masked;
  };
  for (const Case c : {Case{1, 1, 1, 2, false}, Case{70, 70, 8, 64, false}, Case{9, 33, 3, 5, true},
                       Case{130, 97, 2, 64, true}}) {
    auto rounded = [](Tensor t) {
      for (std::int64_t i = 0; i < t.numel(); ++i) {
        t.data<float>()[i] = static_cast<float>(rb(t.data<float>()[i]));
      }
      return t;
    };
    const Tensor q = rounded(random_f32({c.t, c.h, c.d}, 11, -2.0f, 2.0f));
    const Tensor k = rounded(random_f32({c.tk, c.h, c.d}, 12, -2.0f, 2.0f));
    const Tensor v = rounded(random_f32({c.tk, c.h, c.d}, 13));
    Tensor mask = Tensor::empty({c.tk}, DType::Bool);
    for (std::int64_t j = 0; j < c.tk; ++j) mask.data<bool>()[j] = !c.masked || j % 3 != 1;
    AttentionOptions o;
    o.key_padding_mask = &mask;
    Tensor ref, got;
    attention(ctx_, q, k, v, o, ref);
    attention_bf16(ctx_, q, k, v, &mask, got);
    ASSERT_EQ(got.shape(), ref.shape());
    std::vector<double> want(static_cast<std::size_t>(ref.numel()));
    for (std::size_t i = 0; i < want.size(); ++i) want[i] = ref.data<float>()[i];
    // |P v| <= max|v| = 1; probabilities carry 2^-9 relative rounding each.
    test::expect_close(got, want, 0.0, 8e-3, fmt::format("attention t {} tk {}", c.t, c.tk));
  }
  // Every key masked: zeros, like ops::attention.
  const Tensor q = random_f32({4, 2, 8}, 1), kv = random_f32({5, 2, 8}, 2);
  Tensor none = Tensor::zeros({5}, DType::Bool), out;
  attention_bf16(ctx_, q, kv, kv, &none, out);
  for (std::int64_t i = 0; i < out.numel(); ++i) ASSERT_EQ(out.data<float>()[i], 0.0f);
  EXPECT_THROW(attention_bf16(ctx_, q, random_f32({5, 3, 8}, 2), kv, nullptr, out), ShapeError);
}

TEST_P(GemmBf16Op, RejectsMismatchedOperands) {
  const PackedBf16Weight lin = pack_linear_bf16(ctx_, random_f32({8, 6}, 1), WeightLayout::OutIn);
  Tensor out;
  EXPECT_THROW(linear_bf16(ctx_, random_f32({2, 5}, 1), lin, nullptr, out), ShapeError);
  EXPECT_THROW(conv1d_bf16(ctx_, random_f32({1, 5, 4}, 1), lin, nullptr, {}, out), ShapeError);
  const PackedBf16Weight conv = pack_conv1d_bf16(ctx_, random_f32({4, 6, 3}, 1));
  EXPECT_THROW(linear_bf16(ctx_, random_f32({2, 6}, 1), conv, nullptr, out), InvalidArgument);
  EXPECT_THROW(conv1d_bf16(ctx_, random_f32({1, 6, 4}, 1), conv, nullptr, {.groups = 2}, out),
               InvalidArgument);
  EXPECT_THROW(conv1d_bf16(ctx_, random_f32({1, 6, 2}, 1), conv, nullptr, {}, out), ShapeError);
}

// The two tiles sum in different orders but round the same operands: equal to f32 reordering.
TEST(GemmBf16Tiles, AmxMatchesTheAvx512Tile) {
  ThreadPool pool(2);
  ExecContext amx;
  amx.pool = &pool;
  if (!bf16_gemm_available(amx) || !cpu::amx_bf16_available()) {
    GTEST_SKIP() << "this CPU has no AMX-BF16";
  }
  const Tensor x = random_f32({1, 160, 301}, 9);
  const Tensor w = random_f32({80, 160, 3}, 10, -0.1f, 0.1f);
  const PackedBf16Weight p = pack_conv1d_bf16(amx, w);
  ExecContext avx512 = amx;
  avx512.amx = false;
  Tensor a, b;
  conv1d_bf16(amx, x, p, nullptr, {.pad_left = 2}, a);
  conv1d_bf16(avx512, x, p, nullptr, {.pad_left = 2}, b);
  double err = 0.0, scale = 0.0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    err = std::max(err, std::fabs(static_cast<double>(a.data<float>()[i]) - b.data<float>()[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b.data<float>()[i])));
  }
  EXPECT_LT(err / scale, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Tiles, GemmBf16Op, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? std::string("amx") : std::string("avx512");
                         });

}  // namespace
}  // namespace chatterd::ops
