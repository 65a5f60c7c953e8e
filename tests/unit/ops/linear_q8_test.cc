// Row-packed int8 and int4 linear (ops/linear_q8.h): each kernel (int8: VNNI; int4: VNNI, AVX2,
// scalar) against exact block sums on awkward shapes (block groups that leave a tail, odd output
// counts, activation rows beyond one pass), and the op against a reference on the same weight:
// ops::linear on the q8_0 weight, or the f32 product of the dequantised q4_0 weight and the
// dequantised q8_0 activation: the same numbers up to f32 summation order, on the decode, batched
// and prefill paths, with bias, on 1 and 2 threads.
#include "ops/linear_q8.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "backends/cpu/gemm_bf16.h"
#include "backends/cpu/q4_rows.h"
#include "backends/cpu/q8_rows.h"
#include "core/thread_pool.h"
#include "ops/linear.h"
#include "ops_test_util.h"

namespace chatterd::ops {
namespace {

using test::random_f32;

// max |a - b| / max |b|.
double relative_error(const Tensor& a, const Tensor& b) {
  double diff = 0.0, scale = 0.0;
  for (std::int64_t i = 0; i < b.numel(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(a.data<float>()[i]) - b.data<float>()[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b.data<float>()[i])));
  }
  return diff / scale;
}

// A row kernel's output for activation row `row` and weight row r, exactly: the int64 block dots
// of the signed weight codes (code(t)) with the activation's q8_0 codes, each times
// w_scale(b) x the activation's block scale, summed in double. Also returns the terms' absolute
// sum, the scale of the f32 summation error.
template <class Code, class Scale>
std::pair<double, double> exact_block_sums(const cpu::Q8RowsActivation& act, std::int64_t row,
                                           const Code& code, const Scale& w_scale) {
  const std::int64_t nb = act.k / 32;
  double exact = 0.0, mag = 0.0;
  for (std::int64_t b = 0; b < nb; ++b) {
    std::int64_t dot = 0;
    for (std::int64_t t = b * 32; t < (b + 1) * 32; ++t) {
      dot += static_cast<std::int64_t>(code(t)) * act.row_codes(row)[t];
    }
    const double term =
        static_cast<double>(w_scale(b)) * act.row_scales(row)[b] * static_cast<double>(dot);
    exact += term;
    mag += std::fabs(term);
  }
  return {exact, mag};
}

// got [m, n] against x [m, k] times the f32 weight wf [n, k] plus bias, in double, within
// `rel` of each output's absolute term sum.
void expect_f32_product(const Tensor& x, const Tensor& wf, const Tensor& bias, const Tensor& got,
                        double rel) {
  const std::int64_t m = x.dim(0), k = x.dim(1), n = wf.dim(0);
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t r = 0; r < n; ++r) {
      double want = bias.data<float>()[r], mag = std::fabs(want);
      for (std::int64_t j = 0; j < k; ++j) {
        const double t =
            static_cast<double>(x.data<float>()[i * k + j]) * wf.data<float>()[r * k + j];
        want += t;
        mag += std::fabs(t);
      }
      ASSERT_NEAR(got.data<float>()[i * n + r], want, rel * mag) << "row " << i << " out " << r;
    }
  }
}

class LinearQ8Rows : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (GetParam() > 1) ctx_.pool = &pool_;
    if (!q8_rows_available(ctx_, 64)) GTEST_SKIP() << "this CPU has no AVX512-VNNI";
  }
  ThreadPool pool_{2};
  ExecContext ctx_;
};

TEST_P(LinearQ8Rows, KernelMatchesScalarReference) {
  for (const std::int64_t k : {64, 128, 576, 1024}) {
    for (const std::int64_t m : {1, 2, 3, 4}) {
      const std::int64_t n = 37;
      Tensor wq;
      quantize_q8_0(ctx_, random_f32({n, k}, 3), wq);
      const PackedQuantWeight p = pack_q8_rows(ctx_, wq);
      const Tensor x = random_f32({m, k}, 4, -3.0f, 2.0f);
      cpu::Q8RowsActivation act;
      act.prepare(x.data<float>(), m, k, k);
      std::vector<float> want(static_cast<std::size_t>(m * n)), got(want.size());
      const auto* codes = static_cast<const std::uint8_t*>(p.codes.raw_data());
      cpu::q8_rows_scalar(act, 0, m, codes, p.scales.data<float>(), 0, n, want.data(), n);
      cpu::q8_rows_kernel(ctx_.isa)(act, 0, m, codes, p.scales.data<float>(), 0, n, got.data(), n);
      // Exact block dots; the f32 sums of the block terms differ in order only: bound 4e-6 of
      // the terms' absolute sum (about 32 roundings of 2^-24 each).
      const std::int64_t nb = k / 32;
      for (std::int64_t i = 0; i < m; ++i) {
        for (std::int64_t r = 0; r < n; ++r) {
          const auto [exact, mag] = exact_block_sums(
              act, i, [&](std::int64_t t) { return static_cast<int>(codes[r * k + t]) - 128; },
              [&](std::int64_t b) { return p.scales.data<float>()[r * nb + b]; });
          const auto at = static_cast<std::size_t>(i * n + r);
          ASSERT_NEAR(want[at], exact, 4e-6 * mag + 1e-12) << "scalar, k " << k << " m " << m;
          ASSERT_NEAR(got[at], exact, 4e-6 * mag + 1e-12) << "kernel, k " << k << " m " << m;
        }
      }
    }
  }
}

TEST_P(LinearQ8Rows, MatchesTheQ8_0LinearOnEveryPath) {
  const std::int64_t k = 320, n = 150;
  Tensor wq;
  quantize_q8_0(ctx_, random_f32({n, k}, 5), wq);
  const PackedQuantWeight p = pack_q8_rows(ctx_, wq);
  EXPECT_EQ(p.nbytes(), wq.nbytes());  // the same bytes, laid out by rows
  const Tensor bias = random_f32({n}, 6);
  // Decode (1), one pass (4), several passes (7, 17), batched up to 128 (100), prefill (200).
  for (const std::int64_t m : {1, 4, 7, 17, 100, 200}) {
    const Tensor x = random_f32({m, k}, 7);
    Tensor want, got;
    linear(ctx_, x, wq, &bias, want);
    linear_quant_rows(ctx_, x, p, &bias, got);
    ASSERT_EQ(got.shape(), want.shape());
    // Past 16 rows, with AMX, x and w are rounded to bf16 instead of x to q8_0 (both ~1e-2 of
    // the result's scale apart from the q8_0 x q8_0 sum); without AMX, past 128 rows, the
    // weight is dequantised to f32 and x stays f32: also ~1e-2. Up to those, the same sums.
    const bool other_rounding =
        m > kLinearReducedRowKernelMaxRows || (m > kLinearGemvMaxRows && cpu::amx_bf16_available());
    const double bound = other_rounding ? 3e-2 : 1e-5;
    EXPECT_LE(relative_error(got, want), bound) << "m " << m;
  }
}

// The AMX prefill against the f32 product of the dequantised weight and x: bf16 rounding of both
// operands only (2^-9 relative each), on shapes that leave partial feature and row blocks.
TEST_P(LinearQ8Rows, AmxPrefillMatchesTheDequantisedProduct) {
  if (!cpu::amx_bf16_available()) GTEST_SKIP() << "this CPU has no AMX-BF16";
  const std::int64_t k = 192, n = 70, m = 45;
  Tensor wq, wf;
  quantize_q8_0(ctx_, random_f32({n, k}, 8), wq);
  dequantize_q8_0(ctx_, wq, wf);
  const PackedQuantWeight p = pack_q8_rows(ctx_, wq);
  const Tensor x = random_f32({m, k}, 9);
  const Tensor bias = random_f32({n}, 10);
  Tensor got;
  linear_quant_rows(ctx_, x, p, &bias, got);
  expect_f32_product(x, wf, bias, got, 8e-3);
}

TEST_P(LinearQ8Rows, RejectsMismatchedOperands) {
  Tensor wq;
  quantize_q8_0(ctx_, random_f32({8, 64}, 1), wq);
  const PackedQuantWeight p = pack_q8_rows(ctx_, wq);
  Tensor out;
  EXPECT_THROW(linear_quant_rows(ctx_, random_f32({2, 32}, 1), p, nullptr, out), ShapeError);
  Tensor odd;
  quantize_q8_0(ctx_, random_f32({8, 96}, 1), odd);
  EXPECT_THROW(pack_q8_rows(ctx_, odd), ShapeError);
  EXPECT_FALSE(q8_rows_available(ctx_, 96));
}

INSTANTIATE_TEST_SUITE_P(Threads, LinearQ8Rows, ::testing::Values(1, 2));

// q4_0: each block's codes and scale reconstruct it with no more squared error than ggml's
// single scale (the value of largest magnitude / -8, codes rounded to [-8, 7]), the scale is an
// f16 value (so the packed f16 scales lose nothing), and the whole tensor's error is what 4 bits
// give: RMS about a tenth of the block peak.
TEST(QuantizeQ4, RoundTripsNoWorseThanThePeakScale) {
  const ExecContext ctx;
  const Tensor w = random_f32({7, 96}, 11, -2.0f, 1.5f);
  Tensor q, d;
  quantize_q4_0(ctx, w, q);
  ASSERT_EQ(q.dtype(), DType::Q4_0);
  EXPECT_EQ(q.nbytes(), 7u * 3u * sizeof(BlockQ4));
  dequantize_q4_0(ctx, q, d);
  const auto* blocks = static_cast<const BlockQ4*>(q.raw_data());
  double total_err = 0.0, total_peak = 0.0;
  for (std::int64_t b = 0; b < 7 * 3; ++b) {
    const float scale = blocks[b].scale;
    EXPECT_EQ(half_to_float(float_to_half(scale)), scale);
    float peak = 0.0f;
    for (int j = 0; j < 32; ++j) {
      const float v = w.data<float>()[b * 32 + j];
      if (std::fabs(v) > std::fabs(peak)) peak = v;
    }
    const float plain = half_to_float(float_to_half(peak / -8.0f));
    double err = 0.0, plain_err = 0.0;
    for (int j = 0; j < 32; ++j) {
      const float v = w.data<float>()[b * 32 + j];
      const float c = std::clamp(std::round(v / plain), -8.0f, 7.0f);
      plain_err += std::pow(v - plain * c, 2.0);
      err += std::pow(v - d.data<float>()[b * 32 + j], 2.0);
    }
    EXPECT_LE(err, plain_err * (1 + 1e-3)) << "block " << b;
    total_err += err;
    total_peak += static_cast<double>(peak) * peak * 32;
  }
  EXPECT_LT(std::sqrt(total_err / total_peak), 0.1);
  Tensor odd;
  EXPECT_THROW(quantize_q4_0(ctx, random_f32({2, 40}, 1), odd), ShapeError);
  Tensor bad = random_f32({1, 32}, 1);
  bad.data<float>()[3] = std::nanf("");
  EXPECT_THROW(quantize_q4_0(ctx, bad, odd), InvalidArgument);
  EXPECT_THROW(quantize_q8_0(ctx, bad, odd), InvalidArgument);  // NaN, not only infinities
}

// The AVX-512 activation preparation gives the scalar rule's codes, scales and starts bit for bit,
// on halfway cases (x.5 after scaling), zero blocks and non-finite blocks.
TEST(Q8RowsActivation, VectorPreparationMatchesTheScalarRule) {
  if (cpu::detect_isa() < cpu::CpuIsa::Avx512) GTEST_SKIP() << "this CPU has no AVX-512";
  const std::int64_t m = 3, k = 256;
  Tensor x = random_f32({m, k}, 20, -4.0f, 4.0f);
  float* p = x.data<float>();
  // Block 1: 127 at index 32, so the scale is 1 and the values below are exact halves.
  p[32] = 127.0f;
  for (int j = 1; j < 32; ++j) p[32 + j] = static_cast<float>(j % 9) - 4.5f;
  for (int j = 0; j < 32; ++j) p[64 + j] = 0.0f;  // block 2: all zero
  p[96] = -0.0f;  // block 3: a negative zero and values just under a half step
  p[97] = 127.0f;
  p[98] = 0.49999997f;
  p[99] = -0.49999997f;
  p[100] = 1.5f;
  for (int j = 0; j < 32; ++j) p[128 + j] = 1e-38f * static_cast<float>(j - 16);  // tiny block
  p[160 + 3] = -0.0f;
  p[k + 5] = std::numeric_limits<float>::infinity();
  p[k + 40] = -std::numeric_limits<float>::infinity();
  p[2 * k + 100] = std::nanf("");
  for (const std::int32_t zero : {128, 8}) {
    cpu::Q8RowsActivation vec, ref;
    vec.prepare(p, m, k, k, zero, cpu::CpuIsa::Avx512);
    ref.prepare(p, m, k, k, zero, cpu::CpuIsa::Scalar);
    EXPECT_EQ(vec.codes, ref.codes) << "zero " << zero;
    EXPECT_EQ(vec.starts, ref.starts) << "zero " << zero;
    ASSERT_EQ(vec.scales.size(), ref.scales.size());
    for (std::size_t b = 0; b < ref.scales.size(); ++b) {
      if (std::isnan(ref.scales[b])) {
        EXPECT_TRUE(std::isnan(vec.scales[b])) << "block " << b;
      } else {
        EXPECT_EQ(vec.scales[b], ref.scales[b]) << "block " << b;
      }
    }
    EXPECT_TRUE(std::isnan(ref.scales[k / 32])) << "the infinite value's block";
  }
  cpu::Q8RowsActivation odd;
  EXPECT_THROW(odd.prepare(p, 1, 96, 96), ShapeError);
}

// Random weights whose 32-blocks span 2^-4 .. 2^4 in magnitude, so a kernel or dequantiser that
// picks a neighbouring block's scale is far off (uniform weights give every block nearly the
// same scale).
Tensor spread_blocks(const Shape& shape, std::uint32_t seed) {
  Tensor w = random_f32(shape, seed);
  float* p = w.data<float>();
  for (std::int64_t b = 0; b < w.numel() / 32; ++b) {
    const float f = std::ldexp(1.0f, static_cast<int>((b * 7 + seed) % 9) - 4);
    for (int j = 0; j < 32; ++j) p[b * 32 + j] *= f;
  }
  return w;
}

class LinearQ4Rows : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (GetParam() > 1) ctx_.pool = &pool_;
  }
  ThreadPool pool_{2};
  ExecContext ctx_;
};

TEST_P(LinearQ4Rows, PackingKeepsEveryCodeAndScale) {
  const std::int64_t n = 5, k = 384;
  Tensor q;
  quantize_q4_0(ctx_, random_f32({n, k}, 12), q);
  const PackedQuantWeight p = pack_q4_rows(ctx_, q);
  ASSERT_EQ(p.format, RowQuant::Int4);
  // 0.5625 bytes a weight: half a byte of code and 2 bytes of scale per 32.
  EXPECT_EQ(p.nbytes(), static_cast<std::size_t>(n * k / 2 + n * k / 32 * 2));
  const auto* blocks = static_cast<const BlockQ4*>(q.raw_data());
  const auto* codes = static_cast<const std::uint8_t*>(p.codes.raw_data());
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t j = 0; j < k; ++j) {
      const BlockQ4& blk = blocks[(r * k + j) / 32];
      const int t = static_cast<int>(j % 32);
      const int want = t < 16 ? (blk.q[t] & 15) : (blk.q[t - 16] >> 4);
      ASSERT_EQ(cpu::q4_rows_code(codes + r * (k / 2), j), want) << "row " << r << " code " << j;
    }
    for (std::int64_t b = 0; b < k / 32; ++b) {
      EXPECT_EQ(half_to_float(p.scales.data<Half>()[r * (k / 32) + b]),
                blocks[r * (k / 32) + b].scale);
    }
  }
}

// The prefill's dequantisers give dequantize_q4_0's values exactly (f32), or those values rounded
// to bf16 (the AMX side).
TEST_P(LinearQ4Rows, DequantisersGiveTheQ4_0Values) {
  const std::int64_t n = 9, k = 384;
  Tensor q, want;
  quantize_q4_0(ctx_, spread_blocks({n, k}, 21), q);
  dequantize_q4_0(ctx_, q, want);
  const PackedQuantWeight p = pack_q4_rows(ctx_, q);
  const auto* codes = static_cast<const std::uint8_t*>(p.codes.raw_data());
  std::vector<float> f(static_cast<std::size_t>((n - 2) * k));
  cpu::q4_rows_to_f32(codes, p.scales.data<Half>(), k, 2, n, f.data());  // rows 2..n
  for (std::int64_t i = 0; i < (n - 2) * k; ++i) {
    ASSERT_EQ(f[static_cast<std::size_t>(i)], want.data<float>()[2 * k + i]) << "value " << i;
  }
  if (!cpu::amx_bf16_available()) GTEST_SKIP() << "this CPU has no AVX512_BF16 / AMX";
  std::vector<BFloat16> h(static_cast<std::size_t>((n - 2) * k));
  cpu::q4_rows_to_bf16_avx512_bf16(codes, p.scales.data<Half>(), k, 2, n, h.data());
  for (std::int64_t i = 0; i < (n - 2) * k; ++i) {
    ASSERT_EQ(h[static_cast<std::size_t>(i)].bits,
              float_to_bf16(want.data<float>()[2 * k + i]).bits)
        << "value " << i;
  }
}

TEST_P(LinearQ4Rows, EveryKernelMatchesTheExactBlockSums) {
  for (const cpu::CpuIsa isa : {cpu::CpuIsa::Scalar, cpu::CpuIsa::Avx2, cpu::CpuIsa::Avx512}) {
    if (isa > cpu::detect_isa()) continue;
    const cpu::Q4RowsKernel kernel = cpu::q4_rows_kernel(isa);
    // 640 = 20 blocks: a 16-block group and a tail of 4 (VNNI), 8 + 8 + 4 (AVX2).
    for (const std::int64_t k : {128, 256, 640, 1024}) {
      for (const std::int64_t m : {1, 2, 3, 4}) {
        const std::int64_t n = 37;
        Tensor wq;
        quantize_q4_0(ctx_, spread_blocks({n, k}, 13), wq);
        const PackedQuantWeight p = pack_q4_rows(ctx_, wq);
        const Tensor x = random_f32({m + 1, k}, 14, -3.0f, 2.0f);
        cpu::Q8RowsActivation act;
        act.prepare(x.data<float>(), m + 1, k, k, cpu::kQ4RowsZero);
        std::vector<float> got(static_cast<std::size_t>(m * n));
        const auto* codes = static_cast<const std::uint8_t*>(p.codes.raw_data());
        const Half* scales = p.scales.data<Half>();
        kernel(act, 1, m, codes, scales, 0, n, got.data(), n);  // rows 1..m of the activation
        const std::int64_t nb = k / 32;
        for (std::int64_t i = 0; i < m; ++i) {
          for (std::int64_t r = 0; r < n; ++r) {
            const auto [exact, mag] = exact_block_sums(
                act, i + 1,
                [&](std::int64_t t) { return cpu::q4_rows_code(codes + r * (k / 2), t) - 8; },
                [&](std::int64_t b) { return half_to_float(scales[r * nb + b]); });
            ASSERT_NEAR(got[static_cast<std::size_t>(i * n + r)], exact, 4e-6 * mag + 1e-12)
                << cpu::isa_name(isa) << ", k " << k << " m " << m << " row " << i << " out " << r;
          }
        }
      }
    }
  }
}

TEST_P(LinearQ4Rows, MatchesTheDequantisedProductOnEveryPath) {
  const std::int64_t k = 384, n = 150;
  Tensor wq, wf;
  quantize_q4_0(ctx_, spread_blocks({n, k}, 15), wq);
  dequantize_q4_0(ctx_, wq, wf);
  const PackedQuantWeight p = pack_q4_rows(ctx_, wq);
  const Tensor bias = random_f32({n}, 16);
  // Decode (1), one pass (4), several passes (7, 17), batched up to 128 (100), prefill (200).
  for (const std::int64_t m : {1, 4, 7, 17, 100, 200}) {
    const Tensor x = random_f32({m, k}, 17);
    // The row kernels' numbers: dequant(q8_0(x)) . dequant(w), summed in f32.
    Tensor xq, xd, want, got;
    quantize_q8_0(ctx_, x, xq);
    dequantize_q8_0(ctx_, xq, xd);
    linear(ctx_, xd, wf, &bias, want);
    linear_quant_rows(ctx_, x, p, &bias, got);
    ASSERT_EQ(got.shape(), want.shape());
    // Prefill paths round x (and, with AMX, w) to bf16 or keep x f32 instead of q8_0: ~1e-2 of
    // the result's scale from the q8_0 reference, as for int8.
    const bool other_rounding =
        m > kLinearReducedRowKernelMaxRows || (m > kLinearGemvMaxRows && cpu::amx_bf16_available());
    EXPECT_LE(relative_error(got, want), other_rounding ? 3e-2 : 1e-5) << "m " << m;
  }
}

// The AMX prefill against the f32 product of the dequantised weight and x: bf16 rounding of both
// operands only (2^-9 relative each), on shapes that leave partial feature and row blocks.
TEST_P(LinearQ4Rows, AmxPrefillMatchesTheDequantisedProduct) {
  if (!cpu::amx_bf16_available()) GTEST_SKIP() << "this CPU has no AMX-BF16";
  const std::int64_t k = 256, n = 70, m = 45;
  Tensor wq, wf;
  quantize_q4_0(ctx_, spread_blocks({n, k}, 22), wq);
  dequantize_q4_0(ctx_, wq, wf);
  const PackedQuantWeight p = pack_q4_rows(ctx_, wq);
  const Tensor x = random_f32({m, k}, 23);
  const Tensor bias = random_f32({n}, 24);
  Tensor got;
  linear_quant_rows(ctx_, x, p, &bias, got);
  expect_f32_product(x, wf, bias, got, 8e-3);
}

// Forced down to AVX2 and to scalar, the op gives the same numbers as on the best kernel.
TEST_P(LinearQ4Rows, EveryIsaGivesTheSameNumbers) {
  const std::int64_t k = 256, n = 70;
  Tensor wq;
  quantize_q4_0(ctx_, random_f32({n, k}, 18), wq);
  const PackedQuantWeight p = pack_q4_rows(ctx_, wq);
  const Tensor x = random_f32({3, k}, 19);
  Tensor best;
  linear_quant_rows(ctx_, x, p, nullptr, best);
  for (const cpu::CpuIsa isa : {cpu::CpuIsa::Scalar, cpu::CpuIsa::Avx2}) {
    if (isa > cpu::detect_isa()) continue;
    ExecContext forced = ctx_;
    forced.isa = isa;
    Tensor got;
    linear_quant_rows(forced, x, p, nullptr, got);
    EXPECT_LE(relative_error(got, best), 1e-5) << cpu::isa_name(isa);
  }
}

TEST_P(LinearQ4Rows, RejectsMismatchedOperands) {
  Tensor wq;
  quantize_q4_0(ctx_, random_f32({8, 128}, 1), wq);
  const PackedQuantWeight p = pack_q4_rows(ctx_, wq);
  Tensor out;
  EXPECT_THROW(linear_quant_rows(ctx_, random_f32({2, 64}, 1), p, nullptr, out), ShapeError);
  Tensor odd;
  quantize_q4_0(ctx_, random_f32({8, 96}, 1), odd);
  EXPECT_THROW(pack_q4_rows(ctx_, odd), ShapeError);
  EXPECT_FALSE(q4_rows_available(96));
  Tensor q8;
  quantize_q8_0(ctx_, random_f32({8, 128}, 1), q8);
  EXPECT_THROW(pack_q4_rows(ctx_, q8), DTypeError);
}

INSTANTIATE_TEST_SUITE_P(Threads, LinearQ4Rows, ::testing::Values(1, 2));

}  // namespace
}  // namespace chatterd::ops
