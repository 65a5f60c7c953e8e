// The row-packed int4 kernel (q4_rows.h) with AVX512-VNNI, behind its own target attribute: it
// runs only where cpuid reports VNNI (q4_rows.cc checks).
//
// Per 128 codes (one 64-byte load, four blocks) and activation row: a mask and a shift split the
// load into two 64-code vectors, each dotted with vpdpbusd from its pair's start vector, converted
// and FMAed by the pair's two scales (w_scale x x_scale, permuted out of a vector of 16 block
// scales computed once per 512 codes). The low and high halves feed separate accumulators.
#include <immintrin.h>

#include "backends/cpu/q4_rows.h"
#include "backends/cpu/rows_avx512_impl.h"
#include "chatterd/core/dtype.h"

#define CHATTERD_VNNI __attribute__((target("avx512vnni,avx512vl,avx512bw,avx512f,avx2,fma")))

namespace chatterd::cpu {
namespace {  // NOLINT(google-build-namespaces, cert-dcl59-cpp): one private copy per ISA TU

template <int M>
CHATTERD_VNNI void rows(const Q8RowsActivation& x, std::int64_t row0, const std::uint8_t* codes,
                        const Half* scales, std::int64_t begin, std::int64_t end, float* y,
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
  const __m512i nibble = _mm512_set1_epi8(15);
  for (std::int64_t r = begin; r < end; ++r) {
    const std::uint8_t* wr = codes + r * (k / 2);
    const auto* sr = reinterpret_cast<const std::uint16_t*>(scales + r * nb);
    __m512 lo_acc[M];
    __m512 hi_acc[M];
    for (int i = 0; i < M; ++i) lo_acc[i] = hi_acc[i] = _mm512_setzero_ps();
    for (std::int64_t g = 0; g < nb; g += 16) {
      const std::int64_t blocks = nb - g < 16 ? nb - g : 16;  // a multiple of 4
      const auto lanes = static_cast<__mmask16>((1u << blocks) - 1u);
      const __m512 sw = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(lanes, sr + g));
      __m512 p[M];
      for (int i = 0; i < M; ++i) p[i] = _mm512_mul_ps(sw, _mm512_maskz_loadu_ps(lanes, xs[i] + g));
      for (std::int64_t q = 0; q < blocks / 4; ++q) {
        const std::int64_t off = (g + 4 * q) * kQ8BlockSize;  // first code of the 128
        const __m512i w = _mm512_loadu_si512(wr + off / 2);
        _mm_prefetch(reinterpret_cast<const char*>(wr + off / 2 + kWeightPrefetchBytes),
                     _MM_HINT_T0);
        const __m512i lo = _mm512_and_si512(w, nibble);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(w, 4), nibble);
        for (int i = 0; i < M; ++i) {
          const std::int32_t* st = xst[i] + (g / 2 + 2 * q) * 16;
          const __m512i dl =
              _mm512_dpbusd_epi32(_mm512_loadu_si512(st), lo, _mm512_loadu_si512(xq[i] + off));
          const __m512i dh = _mm512_dpbusd_epi32(_mm512_loadu_si512(st + 16), hi,
                                                 _mm512_loadu_si512(xq[i] + off + 64));
          lo_acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dl),
                                      _mm512_permutexvar_ps(pick[2 * q], p[i]), lo_acc[i]);
          hi_acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dh),
                                      _mm512_permutexvar_ps(pick[2 * q + 1], p[i]), hi_acc[i]);
        }
      }
    }
    for (int i = 0; i < M; ++i) {
      y[i * ldy + r] = _mm512_reduce_add_ps(_mm512_add_ps(lo_acc[i], hi_acc[i]));
    }
  }
}

}  // namespace

CHATTERD_VNNI void q4_rows_avx512_vnni(const Q8RowsActivation& x, std::int64_t row0, std::int64_t m,
                                       const std::uint8_t* codes, const Half* scales,
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

#define CHATTERD_BF16 __attribute__((target("avx512bf16,avx512vl,avx512bw,avx512f,avx2,fma")))

CHATTERD_BF16 void q4_rows_to_bf16_avx512_bf16(const std::uint8_t* codes, const Half* scales,
                                               std::int64_t k, std::int64_t r0, std::int64_t r1,
                                               BFloat16* out) {
  const std::int64_t nb = k / kQ8BlockSize;
  const __m512i zero = _mm512_set1_epi32(kQ4RowsZero);
  const __m512i nibble = _mm512_set1_epi32(15);
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::uint8_t* row = codes + r * (k / 2);
    BFloat16* o = out + (r - r0) * k;
    for (std::int64_t b = 0; b < nb; ++b) {
      // Block b is the low (t < 2) or high nibbles of bytes 32 (t % 2) .. + 32 of its group.
      const std::int64_t t = b % 4;
      const std::uint8_t* bytes = row + (b / 4) * (kQ4RowsAlign / 2) + (t % 2) * kQ8BlockSize;
      const int shift = t < 2 ? 0 : 4;
      // _cvtsh_ss, not half_to_float: an out-of-line copy of that inline function compiled here
      // (AVX-512 flags) could be picked by the linker for baseline callers.
      const __m512 s = _mm512_set1_ps(_cvtsh_ss(scales[r * nb + b].bits));
      for (int h = 0; h < kQ8BlockSize; h += 16) {
        const __m128i u = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + h));
        const __m512i c =
            _mm512_and_si512(_mm512_srli_epi32(_mm512_cvtepu8_epi32(u), shift), nibble);
        const __m512i q = _mm512_sub_epi32(c, zero);
        const __m256bh v = _mm512_cvtneps_pbh(_mm512_mul_ps(_mm512_cvtepi32_ps(q), s));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + b * kQ8BlockSize + h),
                            reinterpret_cast<const __m256i&>(v));
      }
    }
  }
}

}  // namespace chatterd::cpu
