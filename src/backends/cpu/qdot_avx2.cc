// q8 x q8 with AVX2: per 32-code block, |w| (u8) times x with w's sign (s8) through maddubs
// (pairs <= 2 * 127 * 127, no i16 saturation), then madd against ones to i32.
#include <immintrin.h>

#include "backends/cpu/qdot_kernels.h"

namespace chatterd::cpu {
namespace {  // NOLINT(google-build-namespaces, cert-dcl59-cpp): one private copy per ISA TU

float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

__m256i load_codes(const BlockQ8& b) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.q));
}

void block(const BlockQ8& wb, const BlockQ8* xb, std::int64_t nb, int m, __m256* acc) {
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i wq = load_codes(wb);
  const __m256i aw = _mm256_sign_epi8(wq, wq);
  for (int i = 0; i < m; ++i) {
    const BlockQ8& x = xb[i * nb];
    const __m256i sx = _mm256_sign_epi8(load_codes(x), wq);
    const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), ones);
    acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(wb.scale * x.scale), _mm256_cvtepi32_ps(p), acc[i]);
  }
}

// M activation rows; two accumulators per row (even and odd blocks) keep two FMA chains going.
template <int M>
void rows(const BlockQ8* xq, std::int64_t nb, const BlockQ8* w, std::int64_t begin,
          std::int64_t end, float* y, std::int64_t ldy) {
  for (std::int64_t r = begin; r < end; ++r) {
    const BlockQ8* wr = w + r * nb;
    __m256 acc0[M];
    __m256 acc1[M];
    for (int i = 0; i < M; ++i) acc0[i] = acc1[i] = _mm256_setzero_ps();
    std::int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
      _mm_prefetch(reinterpret_cast<const char*>(wr + b) + kWeightPrefetchBytes, _MM_HINT_T0);
      block(wr[b], xq + b, nb, M, acc0);
      block(wr[b + 1], xq + b + 1, nb, M, acc1);
    }
    if (b < nb) block(wr[b], xq + b, nb, M, acc0);
    for (int i = 0; i < M; ++i) y[i * ldy + r] = hsum(_mm256_add_ps(acc0[i], acc1[i]));
  }
}

}  // namespace

void dot_q8_q8_avx2(const BlockQ8* xq, std::int64_t m, std::int64_t k, const BlockQ8* w,
                    std::int64_t begin, std::int64_t end, float* y, std::int64_t ldy) {
  const std::int64_t nb = k / kQ8BlockSize;
  for (std::int64_t i = 0; i < m; i += 2) {
    if (m - i >= 2) {
      rows<2>(xq + i * nb, nb, w, begin, end, y + i * ldy, ldy);
    } else {
      rows<1>(xq + i * nb, nb, w, begin, end, y + i * ldy, ldy);
    }
  }
}

}  // namespace chatterd::cpu
