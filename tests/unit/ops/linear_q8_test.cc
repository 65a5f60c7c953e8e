// Row-packed int8 linear (ops/linear_q8.h): the VNNI kernel against the scalar reference on
// awkward shapes (block groups that leave a tail, odd output counts, activation rows beyond one
// pass), and the op against ops::linear on the same q8_0 weight: the same numbers up to f32
// summation order, on the decode, batched and prefill paths, with bias, on 1 and 2 threads.
#include "ops/linear_q8.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/gemm_bf16.h"
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
      const PackedQ8Weight p = pack_q8_rows(ctx_, wq);
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
          double exact = 0.0, mag = 0.0;
          for (std::int64_t b = 0; b < nb; ++b) {
            std::int64_t dot = 0;
            for (std::int64_t t = b * 32; t < (b + 1) * 32; ++t) {
              dot += (static_cast<std::int64_t>(codes[r * k + t]) - 128) * act.codes[i * k + t];
            }
            const double term = static_cast<double>(p.scales.data<float>()[r * nb + b]) *
                                act.scales[i * nb + b] * static_cast<double>(dot);
            exact += term;
            mag += std::fabs(term);
          }
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
  const PackedQ8Weight p = pack_q8_rows(ctx_, wq);
  EXPECT_EQ(p.nbytes(), wq.nbytes());  // the same bytes, laid out by rows
  const Tensor bias = random_f32({n}, 6);
  // Decode (1), one pass (4), several passes (7, 17), batched up to 128 (100), prefill (200).
  for (const std::int64_t m : {1, 4, 7, 17, 100, 200}) {
    const Tensor x = random_f32({m, k}, 7);
    Tensor want, got;
    linear(ctx_, x, wq, &bias, want);
    linear_q8_rows(ctx_, x, p, &bias, got);
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
  const PackedQ8Weight p = pack_q8_rows(ctx_, wq);
  const Tensor x = random_f32({m, k}, 9);
  const Tensor bias = random_f32({n}, 10);
  Tensor got;
  linear_q8_rows(ctx_, x, p, &bias, got);
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t r = 0; r < n; ++r) {
      double want = bias.data<float>()[r], mag = std::fabs(want);
      for (std::int64_t j = 0; j < k; ++j) {
        const double t =
            static_cast<double>(x.data<float>()[i * k + j]) * wf.data<float>()[r * k + j];
        want += t;
        mag += std::fabs(t);
      }
      ASSERT_NEAR(got.data<float>()[i * n + r], want, 8e-3 * mag) << "row " << i << " out " << r;
    }
  }
}

TEST_P(LinearQ8Rows, RejectsMismatchedOperands) {
  Tensor wq;
  quantize_q8_0(ctx_, random_f32({8, 64}, 1), wq);
  const PackedQ8Weight p = pack_q8_rows(ctx_, wq);
  Tensor out;
  EXPECT_THROW(linear_q8_rows(ctx_, random_f32({2, 32}, 1), p, nullptr, out), ShapeError);
  Tensor odd;
  quantize_q8_0(ctx_, random_f32({8, 96}, 1), odd);
  EXPECT_THROW(pack_q8_rows(ctx_, odd), ShapeError);
  EXPECT_FALSE(q8_rows_available(ctx_, 96));
}

INSTANTIATE_TEST_SUITE_P(Threads, LinearQ8Rows, ::testing::Values(1, 2));

}  // namespace
}  // namespace chatterd::ops
