// The row-packed int8 kernel (q8_rows.h) with AVX512-VNNI, behind its own target attribute: it
// runs only where cpuid reports VNNI (q8_rows.cc checks).
//
// Per 64 codes (two blocks) and activation row: one weight load (shared by the rows), vpdpbusd
// from the pair's start vector, a conversion, and an FMA by the pair's two scales (w_scale x
// x_scale, permuted out of a vector of 16 block scales computed once per 512 codes).
#include <immintrin.h>

#include <limits>

#include "backends/cpu/q8_rows.h"
#include "backends/cpu/rows_avx512_impl.h"
#include "chatterd/core/dtype.h"

#define CHATTERD_VNNI __attribute__((target("avx512vnni,avx512vl,avx512bw,avx512f,avx2,fma")))

namespace chatterd::cpu {
namespace {  // NOLINT(google-build-namespaces, cert-dcl59-cpp): one private copy per ISA TU

template <int M>
CHATTERD_VNNI void rows(const Q8RowsActivation& x, std::int64_t row0, const std::uint8_t* codes,
                        const float* scales, std::int64_t begin, std::int64_t end, float* y,
                        std::int64_t ldy) {
  const std::int64_t k = x.k;
  const std::int64_t nb = k / kQ8BlockSize;
  const std::int8_t* xq[M];
  const float* xs[M];
  const std::int32_t* xst[M];
  for (int i = 0; i < M; ++i) {
    xq[i] = x.row_codes(row0 + i);
    xs[i] = x.row_scales(row0 + i);
    xst[i] = x.row_starts(row0 + i);
  }
  __m512i pick[8];
  block_pair_picks(pick);
  for (std::int64_t r = begin; r < end; ++r) {
    const std::uint8_t* wr = codes + r * k;
    const float* sr = scales + r * nb;
    __m512 acc[M];
    for (int i = 0; i < M; ++i) acc[i] = _mm512_setzero_ps();
    for (std::int64_t g = 0; g < nb; g += 16) {
      const std::int64_t blocks = nb - g < 16 ? nb - g : 16;
      const auto lanes = static_cast<__mmask16>((1u << blocks) - 1u);
      const __m512 sw = _mm512_maskz_loadu_ps(lanes, sr + g);
      __m512 p[M];
      for (int i = 0; i < M; ++i) p[i] = _mm512_mul_ps(sw, _mm512_maskz_loadu_ps(lanes, xs[i] + g));
      for (std::int64_t j = 0; j < blocks / 2; ++j) {
        const std::int64_t off = (g + 2 * j) * kQ8BlockSize;
        const __m512i w = _mm512_loadu_si512(wr + off);
        _mm_prefetch(reinterpret_cast<const char*>(wr + off + kWeightPrefetchBytes), _MM_HINT_T0);
        for (int i = 0; i < M; ++i) {
          const __m512i start = _mm512_loadu_si512(xst[i] + (g / 2 + j) * 16);
          const __m512i d = _mm512_dpbusd_epi32(start, w, _mm512_loadu_si512(xq[i] + off));
          acc[i] =
              _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), _mm512_permutexvar_ps(pick[j], p[i]), acc[i]);
        }
      }
    }
    for (int i = 0; i < M; ++i) y[i * ldy + r] = _mm512_reduce_add_ps(acc[i]);
  }
}

}  // namespace

CHATTERD_VNNI void q8_rows_avx512_vnni(const Q8RowsActivation& x, std::int64_t row0, std::int64_t m,
                                       const std::uint8_t* codes, const float* scales,
                                       std::int64_t begin, std::int64_t end, float* y,
                                       std::int64_t ldy) {
  switch (m) {
    case 4:
      return rows<4>(x, row0, codes, scales, begin, end, y, ldy);
    case 3:
      return rows<3>(x, row0, codes, scales, begin, end, y, ldy);
    case 2:
      return rows<2>(x, row0, codes, scales, begin, end, y, ldy);
    default:
      return rows<1>(x, row0, codes, scales, begin, end, y, ldy);
  }
}

void q8_rows_prepare_row_avx512(const float* x, std::int64_t n_blocks, std::int32_t weight_zero,
                                std::int8_t* codes, float* scales, std::int32_t* starts) {
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  const __m512 big = _mm512_set1_ps(std::numeric_limits<float>::max());
  const __m512 half = _mm512_set1_ps(0.5f);
  const __m512i lim = _mm512_set1_epi32(127);
  for (std::int64_t b = 0; b < n_blocks; ++b) {
    const float* src = x + b * kQ8BlockSize;
    const __m512 v0 = _mm512_loadu_ps(src);
    const __m512 v1 = _mm512_loadu_ps(src + 16);
    const __m512 a0 = _mm512_and_ps(v0, abs_mask);
    const __m512 a1 = _mm512_and_ps(v1, abs_mask);
    // Ordered <= FLT_MAX fails for NaN and infinities.
    const bool finite = (_mm512_cmp_ps_mask(a0, big, _CMP_LE_OQ) &
                         _mm512_cmp_ps_mask(a1, big, _CMP_LE_OQ)) == 0xffff;
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
    // The scalar rule (quantize_row_q8_0) step by step: the same float operations, so the same
    // codes.
    const float scale = finite ? amax / 127.0f : std::numeric_limits<float>::quiet_NaN();
    const float inv = finite && scale > 0.0f && 1.0f / scale <= std::numeric_limits<float>::max()
                          ? 1.0f / scale
                          : 0.0f;
    scales[b] = scale;
    const __m512 vinv = _mm512_set1_ps(inv);
    __m512i sum = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h) {
      const __m512 v = _mm512_mul_ps(h == 0 ? v0 : v1, vinv);
      const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
      const __m512 r = _mm512_mask_sub_ps(_mm512_add_ps(v, half), neg, v, half);
      __m512i q = _mm512_cvttps_epi32(finite ? r : _mm512_setzero_ps());
      q = _mm512_max_epi32(_mm512_min_epi32(q, lim), _mm512_sub_epi32(_mm512_setzero_si512(), lim));
      sum = _mm512_add_epi32(sum, q);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + b * kQ8BlockSize + 16 * h),
                       _mm512_cvtepi32_epi8(q));
    }
    starts[(b / 2) * 16 + (b % 2) * 8] = -weight_zero * _mm512_reduce_add_epi32(sum);
  }
}

#define CHATTERD_BF16 __attribute__((target("avx512bf16,avx512vl,avx512bw,avx512f,avx2,fma")))

CHATTERD_BF16 void q8_rows_to_bf16_avx512_bf16(const std::uint8_t* codes, const float* scales,
                                               std::int64_t k, std::int64_t r0, std::int64_t r1,
                                               BFloat16* out) {
  const std::int64_t nb = k / kQ8BlockSize;
  const __m512i bias = _mm512_set1_epi32(128);
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::uint8_t* c = codes + r * k;
    BFloat16* o = out + (r - r0) * k;
    for (std::int64_t b = 0; b < nb; ++b) {
      const __m512 s = _mm512_set1_ps(scales[r * nb + b]);
      for (int h = 0; h < kQ8BlockSize; h += 16) {
        const __m128i u = _mm_loadu_si128(reinterpret_cast<const __m128i*>(c + b * 32 + h));
        const __m512i q = _mm512_sub_epi32(_mm512_cvtepu8_epi32(u), bias);
        const __m256bh v = _mm512_cvtneps_pbh(_mm512_mul_ps(_mm512_cvtepi32_ps(q), s));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + b * 32 + h),
                            reinterpret_cast<const __m256i&>(v));
      }
    }
  }
}

}  // namespace chatterd::cpu
