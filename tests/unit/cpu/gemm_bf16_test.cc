// The bf16 GEMM tile (scalar reference, and the vdpbf16ps tile where the CPU has AVX512_BF16)
// against a double-precision sum of the same bf16 operands: every row count 1..8, several runs
// (conv taps) with their own row pointers, and pair counts that leave odd tails.
#include "backends/cpu/gemm_bf16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace chatterd::cpu {
namespace {

std::vector<BFloat16> random_bf16(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<BFloat16> v(n);
  for (auto& x : v) x = float_to_bf16(dist(rng));
  return v;
}

void check_tile(GemmBf16Tile tile, int rows, int segments, std::int64_t pairs, std::uint32_t seed) {
  // A: segments x kGemmRows rows of their own (distinct pointers), each 2 * pairs long.
  const auto a_data = random_bf16(static_cast<std::size_t>(segments * kGemmRows * 2 * pairs), seed);
  const auto panel =
      random_bf16(static_cast<std::size_t>(segments * pairs * kPanelCols * 2), seed + 1);
  std::vector<const BFloat16*> a(static_cast<std::size_t>(segments * kGemmRows));
  for (std::size_t i = 0; i < a.size(); ++i) {
    a[i] = a_data.data() + static_cast<std::int64_t>(i) * 2 * pairs;
  }
  std::vector<float> out(kGemmRows * kPanelCols, 123.0f);
  tile(a.data(), rows, segments, pairs, panel.data(), out.data());
  for (int r = 0; r < kGemmRows; ++r) {
    for (int j = 0; j < kPanelCols; ++j) {
      double want = 0.0, mag = 0.0;
      for (int s = 0; s < segments && r < rows; ++s) {
        const BFloat16* ar = a[static_cast<std::size_t>(s * kGemmRows + r)];
        for (std::int64_t p = 0; p < pairs; ++p) {
          for (int e = 0; e < 2; ++e) {
            const double t =
                static_cast<double>(bf16_to_float(ar[2 * p + e])) *
                bf16_to_float(
                    panel[static_cast<std::size_t>(((s * pairs + p) * kPanelCols + j) * 2 + e)]);
            want += t;
            mag += std::fabs(t);
          }
        }
      }
      const double got = out[static_cast<std::size_t>(r * kPanelCols + j)];
      // f32 accumulation of 2 * segments * pairs products.
      ASSERT_NEAR(got, want, 1e-6 * mag + 1e-30)
          << "rows " << rows << " segments " << segments << " pairs " << pairs << " at [" << r
          << ", " << j << "]";
    }
  }
}

void check_all_shapes(GemmBf16Tile tile) {
  std::uint32_t seed = 1;
  for (int rows = 1; rows <= kGemmRows; ++rows) {
    for (const int segments : {1, 3}) {
      for (const std::int64_t pairs : {1, 2, 7, 64, 129})
        check_tile(tile, rows, segments, pairs, seed++);
    }
  }
  check_tile(tile, kGemmRows, 11, 33, seed);  // a HiFT k=11 conv with odd channel pairs
}

TEST(GemmBf16Tile, ScalarMatchesDoubleReference) {
  check_all_shapes(&gemm_bf16_tile_scalar);
}

TEST(GemmBf16Tile, Avx512Bf16MatchesDoubleReference) {
  const GemmBf16Tile tile = gemm_bf16_tile_kernel(detect_isa());
  if (tile == nullptr) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  check_all_shapes(tile);
  EXPECT_EQ(gemm_bf16_tile_kernel(CpuIsa::Avx2), nullptr);  // a forced lower ISA never gets it
}

TEST(RowsToBf16, RoundsNearestEvenAndZeroesTheOddPad) {
  const float x[6] = {1.0f, 1.00390625f, 1.01171875f, -3.5f, 1e-3f, 7.0f};  // 2 rows of 3
  std::vector<BFloat16> out(8, float_to_bf16(9.0f));
  rows_to_bf16(detect_isa(), x, 2, 3, 3, out.data(), 4);
  for (int r = 0; r < 2; ++r) {
    for (int i = 0; i < 3; ++i) EXPECT_EQ(out[r * 4 + i].bits, float_to_bf16(x[r * 3 + i]).bits);
    EXPECT_EQ(out[r * 4 + 3].bits, 0);
  }
  EXPECT_EQ(bf16_to_float(out[1]), 1.0f);  // 1 + 2^-8 is a tie: to even
}

}  // namespace
}  // namespace chatterd::cpu
