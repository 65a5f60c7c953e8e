// The row-packed int4 kernel (q4_rows.h) with AVX2 (no VNNI): per 32-code block, maddubs of the
// unsigned codes (0..15) with the s8 activation codes (pairs <= 2 * 15 * 128: no i16
// saturation), madd against ones to i32, plus the block's start vector (the -8 x sum term in lane
// 0), converted and FMAed by the block's w_scale x x_scale broadcast from a vector of 8.
#include <immintrin.h>

#include "backends/cpu/q4_rows.h"
#include "backends/cpu/vec_avx2.h"
#include "chatterd/core/dtype.h"

namespace chatterd::cpu {
namespace {  // NOLINT(google-build-namespaces, cert-dcl59-cpp): one private copy per ISA TU

// M (1 or 2) activation rows; the low-nibble blocks (0, 1 of each group) and the high-nibble
// blocks (2, 3) go to separate accumulators.
template <int M>
void rows(const Q8RowsActivation& x, std::int64_t row0, const std::uint8_t* codes,
          const Half* scales, std::int64_t begin, std::int64_t end, float* y, std::int64_t ldy) {
  const std::int64_t k = x.k;
  const std::int64_t nb = k / kQ8BlockSize;
  const std::int8_t* xq[M];
  const float* xs[M];
  const std::int32_t* xst[M];
  for (int i = 0; i < M; ++i) {
    xq[i] = x.row_codes(row0 + i);
    xs[i] = x.row_scales(row0 + i);
    xst[i] = x.row_starts(row0 + i);  // block b's 8 lanes at b * 8
  }
  const __m256i nibble = _mm256_set1_epi8(15);
  const __m256i ones = _mm256_set1_epi16(1);
  for (std::int64_t r = begin; r < end; ++r) {
    const std::uint8_t* wr = codes + r * (k / 2);
    const Half* sr = scales + r * nb;
    __m256 lo_acc[M];
    __m256 hi_acc[M];
    for (int i = 0; i < M; ++i) lo_acc[i] = hi_acc[i] = _mm256_setzero_ps();
    for (std::int64_t g = 0; g < nb; g += 8) {
      const std::int64_t blocks = nb - g < 8 ? nb - g : 8;  // 8 or 4
      // A group of 4 (the row's tail) loads 4 scales: the upper lanes stay unused.
      const __m256 sw =
          _mm256_cvtph_ps(blocks == 8 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(sr + g))
                                      : _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sr + g)));
      __m256 p[M];
      for (int i = 0; i < M; ++i) {
        p[i] = _mm256_mul_ps(sw, blocks == 8 ? _mm256_loadu_ps(xs[i] + g)
                                             : _mm256_castps128_ps256(_mm_loadu_ps(xs[i] + g)));
      }
      for (std::int64_t q = 0; q < blocks / 4; ++q) {
        const std::int64_t b0 = g + 4 * q;
        const std::int64_t off = b0 * kQ8BlockSize;
        for (int half = 0; half < 2; ++half) {  // bytes [0, 32) then [32, 64) of the group
          const __m256i w =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr + off / 2 + 32 * half));
          if (half == 0) {  // once per 64-byte line
            _mm_prefetch(reinterpret_cast<const char*>(wr + off / 2 + kWeightPrefetchBytes),
                         _MM_HINT_T0);
          }
          const __m256i lo = _mm256_and_si256(w, nibble);
          const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), nibble);
          const std::int64_t bl = b0 + half;      // the low nibbles' block
          const std::int64_t bh = b0 + 2 + half;  // the high nibbles' block
          const __m256i il = _mm256_set1_epi32(static_cast<int>(bl - g));
          const __m256i ih = _mm256_set1_epi32(static_cast<int>(bh - g));
          for (int i = 0; i < M; ++i) {
            const auto* xl = reinterpret_cast<const __m256i*>(xq[i] + bl * kQ8BlockSize);
            const auto* xh = reinterpret_cast<const __m256i*>(xq[i] + bh * kQ8BlockSize);
            const __m256i dl = _mm256_add_epi32(
                _mm256_madd_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256(xl)), ones),
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xst[i] + bl * 8)));
            const __m256i dh = _mm256_add_epi32(
                _mm256_madd_epi16(_mm256_maddubs_epi16(hi, _mm256_loadu_si256(xh)), ones),
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xst[i] + bh * 8)));
            lo_acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dl), _mm256_permutevar8x32_ps(p[i], il),
                                        lo_acc[i]);
            hi_acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dh), _mm256_permutevar8x32_ps(p[i], ih),
                                        hi_acc[i]);
          }
        }
      }
    }
    for (int i = 0; i < M; ++i)
      y[i * ldy + r] = VecAvx2::reduce_sum(_mm256_add_ps(lo_acc[i], hi_acc[i]));
  }
}

}  // namespace

void q4_rows_avx2(const Q8RowsActivation& x, std::int64_t row0, std::int64_t m,
                  const std::uint8_t* codes, const Half* scales, std::int64_t begin,
                  std::int64_t end, float* y, std::int64_t ldy) {
  for (std::int64_t i = 0; i < m; i += 2) {
    if (m - i >= 2) {
      rows<2>(x, row0 + i, codes, scales, begin, end, y + i * ldy, ldy);
    } else {
      rows<1>(x, row0 + i, codes, scales, begin, end, y + i * ldy, ldy);
    }
  }
}

}  // namespace chatterd::cpu
