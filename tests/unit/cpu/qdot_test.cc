// Every q8 x q8 and bf16-split variant this CPU runs against a double-precision reference of the
// same prepared operands, on sizes that exercise tails, odd block counts, sub-ranges of rows and
// 1..5 activation rows; plus the end-to-end error bound that the quantisation step implies.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "backends/cpu/qdot_kernels.h"

namespace chatterd::cpu {
namespace {

std::vector<float> random_vec(std::int64_t n, std::uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = dist(rng);
  // An outlier per 97 values (activation outliers are what per-block scales are for).
  for (std::size_t i = 0; i < v.size(); i += 97) v[i] *= 20.0f;
  return v;
}

std::vector<BlockQ8> quantize(const std::vector<float>& v) {
  std::vector<BlockQ8> q(v.size() / kQ8BlockSize);
  quantize_row_q8_0(v.data(), q.data(), static_cast<std::int64_t>(q.size()));
  return q;
}

double deq(const BlockQ8* b, std::int64_t j) {
  return static_cast<double>(b[j / kQ8BlockSize].scale) * b[j / kQ8BlockSize].q[j % kQ8BlockSize];
}

constexpr double kEps = std::numeric_limits<float>::epsilon();

TEST(QuantizeRowQ8, CodesWithinHalfAStepAndZeroBlocks) {
  std::vector<float> x = random_vec(96, 3);
  for (int j = 32; j < 64; ++j) x[static_cast<std::size_t>(j)] = 0.0f;  // an all-zero block
  const auto q = quantize(x);
  EXPECT_EQ(q[1].scale, 0.0f);
  for (std::int64_t j = 0; j < 96; ++j) {
    const BlockQ8& b = q[static_cast<std::size_t>(j / kQ8BlockSize)];
    EXPECT_LE(std::abs(b.q[j % kQ8BlockSize]), 127);
    // |x - s q| <= s / 2 (plus the rounding of x / s)
    EXPECT_LE(std::fabs(x[static_cast<std::size_t>(j)] - deq(q.data(), j)),
              0.5 * b.scale * (1.0 + 4 * kEps) + 1e-30)
        << j;
  }
  std::vector<float> bad(32, 1.0f);
  bad[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(quantize(bad)[0].scale));  // a NaN activation is not silently dropped
}

TEST(QDot, Q8VariantsMatchReferenceOnAwkwardSizes) {
  std::uint32_t seed = 10;
  for (const auto& v : qdot_variants()) {
    if (v.dot_q8_q8 == nullptr) continue;
    for (const std::int64_t k : {32, 64, 96, 352, 1056}) {
      for (const std::int64_t n : {1, 7, 33}) {
        for (const std::int64_t m : {1, 2, 3, 4, 5}) {
          const std::int64_t nb = k / kQ8BlockSize;
          const auto wq = quantize(random_vec(n * k, seed++, 0.05f));
          const auto xq = quantize(random_vec(m * k, seed++));
          // Rows [begin, end) only; the rest of y must stay untouched.
          const std::int64_t begin = n > 2 ? 1 : 0;
          const std::int64_t end = n > 2 ? n - 1 : n;
          const std::int64_t ldy = n + 3;
          std::vector<float> y(static_cast<std::size_t>(m * ldy), -7.0f);
          v.dot_q8_q8(xq.data(), m, k, wq.data(), begin, end, y.data(), ldy);
          for (std::int64_t i = 0; i < m; ++i) {
            for (std::int64_t r = 0; r < ldy; ++r) {
              const float got = y[static_cast<std::size_t>(i * ldy + r)];
              if (r < begin || r >= end) {
                ASSERT_EQ(got, -7.0f) << v.name << " wrote outside its rows";
                continue;
              }
              // Integer partial sums are exact; the SIMD kernels scale them per lane (a lane
              // holds 4 of a block's 32 products), so rounding is relative to the lanes'
              // magnitudes, bounded by |sx sw| sum |qx qw|: the scale product, one FMA per block
              // per lane (nb / 2 per chain), two chains and a 3-level lane reduction round at
              // most nb + 6 times.
              double want = 0.0;
              double mag = 0.0;
              for (std::int64_t b = 0; b < nb; ++b) {
                const BlockQ8& xb = xq[static_cast<std::size_t>(i * nb + b)];
                const BlockQ8& wb = wq[static_cast<std::size_t>(r * nb + b)];
                std::int64_t s = 0;
                std::int64_t sa = 0;
                for (int j = 0; j < kQ8BlockSize; ++j) {
                  s += xb.q[j] * wb.q[j];
                  sa += std::abs(xb.q[j] * wb.q[j]);
                }
                const double d = static_cast<double>(xb.scale) * wb.scale;
                want += d * static_cast<double>(s);
                mag += std::fabs(d) * static_cast<double>(sa);
              }
              ASSERT_LE(std::fabs(got - want), (static_cast<double>(nb) + 6.0) * kEps * mag + 1e-30)
                  << fmt::format("{} k={} n={} m={} row {} out {}", v.name, k, n, m, i, r);
            }
          }
        }
      }
    }
  }
}

// Against the unquantised f32 product: with x = xq + dx, w = wq + dw, |dx| <= sx / 2 and
// |dw| <= sw / 2 per block, |x.w - xq.wq| <= sum |dx||wq| + |xq||dw| + |dx||dw|, which is computed
// per output from the actual scales (no empirical slack).
TEST(QDot, Q8ErrorWithinQuantisationBound) {
  const std::int64_t k = 1024;
  const std::int64_t n = 64;
  const std::int64_t nb = k / kQ8BlockSize;
  const auto wf = random_vec(n * k, 1, 0.05f);
  const auto xf = random_vec(k, 2);
  const auto wq = quantize(wf);
  const auto xq = quantize(xf);
  const auto kernel = dot_q8_q8_kernel(detect_isa());
  std::vector<float> y(static_cast<std::size_t>(n));
  kernel(xq.data(), 1, k, wq.data(), 0, n, y.data(), n);
  for (std::int64_t r = 0; r < n; ++r) {
    double exact = 0.0;
    double bound = 0.0;
    double mag = 0.0;
    for (std::int64_t j = 0; j < k; ++j) {
      const double x = xf[static_cast<std::size_t>(j)];
      const double w = wf[static_cast<std::size_t>(r * k + j)];
      exact += x * w;
      const double sx = xq[static_cast<std::size_t>(j / kQ8BlockSize)].scale;
      const double sw = wq[static_cast<std::size_t>(r * nb + j / kQ8BlockSize)].scale;
      const double qx = deq(xq.data(), j);
      const double qw = deq(wq.data() + r * nb, j);
      bound += 0.5 * sx * std::fabs(qw) + 0.5 * sw * std::fabs(qx) + 0.25 * sx * sw;
      mag += std::fabs(qx * qw);
    }
    bound += (static_cast<double>(nb) + 3.0) * kEps * mag;
    EXPECT_LE(std::fabs(y[static_cast<std::size_t>(r)] - exact), bound) << r;
  }
}

TEST(SplitBf16, ThreePartsAreExact) {
  const auto x = random_vec(1000, 4, 3.0f);
  std::vector<BFloat16> parts(3000);
  split_bf16(x.data(), parts.data(), 1000);
  for (std::size_t i = 0; i < 1000; ++i) {
    const double sum = static_cast<double>(bf16_to_float(parts[i])) +
                       bf16_to_float(parts[1000 + i]) + bf16_to_float(parts[2000 + i]);
    ASSERT_EQ(sum, static_cast<double>(x[i])) << i;
  }
}

TEST(QDot, Bf16SplitMatchesF32ActivationReference) {
  bool ran = false;
  std::uint32_t seed = 100;
  for (const auto& v : qdot_variants()) {
    if (v.dot_bf16_split == nullptr) continue;
    ran = true;
    for (const std::int64_t k : {1, 17, 32, 64, 95, 1030}) {
      for (const std::int64_t n : {1, 5, 40}) {
        for (const std::int64_t m : {1, 2, 3, 5}) {
          const auto wf = random_vec(n * k, seed++);
          const auto x = random_vec(m * k, seed++);
          std::vector<BFloat16> w(wf.size());
          for (std::size_t i = 0; i < w.size(); ++i) w[i] = float_to_bf16(wf[i]);
          std::vector<BFloat16> parts(static_cast<std::size_t>(3 * m * k));
          split_bf16(x.data(), parts.data(), m * k);
          std::vector<float> y(static_cast<std::size_t>(m * n));
          v.dot_bf16_split(parts.data(), m, k, w.data(), 0, n, y.data(), n);
          for (std::int64_t i = 0; i < m; ++i) {
            for (std::int64_t r = 0; r < n; ++r) {
              double want = 0.0;
              double mag = 0.0;
              for (std::int64_t j = 0; j < k; ++j) {
                const double p = static_cast<double>(x[static_cast<std::size_t>(i * k + j)]) *
                                 bf16_to_float(w[static_cast<std::size_t>(r * k + j)]);
                want += p;
                mag += std::fabs(p);
              }
              // Each f32 lane adds 2 products per vdpbf16ps, k / 32 in all, then 5 chain adds
              // and a 4-level reduction: at most k / 32 + 10 roundings of partial sums <= mag.
              const double tol = kEps * (static_cast<double>(k) / 32.0 + 12.0) * mag;
              ASSERT_LE(std::fabs(y[static_cast<std::size_t>(i * n + r)] - want), tol + 1e-30)
                  << fmt::format("{} k={} n={} m={} ({}, {})", v.name, k, n, m, i, r);
            }
          }
        }
      }
    }
  }
  if (!ran) GTEST_SKIP() << "this CPU has no AVX512_BF16";
}

TEST(QDot, DispatchFollowsIsaCeiling) {
  EXPECT_EQ(dot_q8_q8_kernel(CpuIsa::Scalar), &dot_q8_q8_scalar);
  EXPECT_EQ(dot_bf16_split_kernel(CpuIsa::Avx2), nullptr);
  if (detect_isa() >= CpuIsa::Avx2) {
    EXPECT_EQ(dot_q8_q8_kernel(CpuIsa::Avx2), &dot_q8_q8_avx2);
  }
}

}  // namespace
}  // namespace chatterd::cpu
