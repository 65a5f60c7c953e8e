// AVX-512 extension kernels, compiled into the AVX-512 TU but each behind its own target
// attribute: they run only where cpuid reports the extension (qdot_kernels.cc checks).
//  - VNNI: q8 x q8 with vpdpbusd on 256-bit halves (a q8_0 block is 32 codes; AVX-512 without
//    VNNI gains nothing over AVX2's maddubs at that width, so it uses the AVX2 kernel).
//  - BF16: vdpbf16ps against the three-part bf16 split of the activation.
#include <immintrin.h>

#include "backends/cpu/qdot_kernels.h"

#define CHATTERD_VNNI __attribute__((target("avx512vnni,avx512vl,avx512bw,avx512f,avx2,fma")))
#define CHATTERD_BF16 __attribute__((target("avx512bf16,avx512vl,avx512bw,avx512f,avx2,fma")))

namespace chatterd::cpu {
namespace {  // NOLINT(google-build-namespaces, cert-dcl59-cpp): one private copy per ISA TU

CHATTERD_VNNI float hsum256(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

CHATTERD_VNNI __m256i load_codes(const BlockQ8& b) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.q));
}

// |w| as u8 times x carrying w's sign as s8: vpdpbusd sums groups of four into i32 exactly.
CHATTERD_VNNI inline void vnni_block(const BlockQ8& wb, const BlockQ8* xb, std::int64_t nb, int m,
                                     __m256* acc) {
  const __m256i wq = load_codes(wb);
  const __m256i aw = _mm256_sign_epi8(wq, wq);
  for (int i = 0; i < m; ++i) {
    const BlockQ8& x = xb[i * nb];
    const __m256i sx = _mm256_sign_epi8(load_codes(x), wq);
    const __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, sx);
    acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(wb.scale * x.scale), _mm256_cvtepi32_ps(p), acc[i]);
  }
}

template <int M>
CHATTERD_VNNI void vnni_rows(const BlockQ8* xq, std::int64_t nb, const BlockQ8* w,
                             std::int64_t begin, std::int64_t end, float* y, std::int64_t ldy) {
  for (std::int64_t r = begin; r < end; ++r) {
    const BlockQ8* wr = w + r * nb;
    __m256 acc0[M];
    __m256 acc1[M];
    for (int i = 0; i < M; ++i) acc0[i] = acc1[i] = _mm256_setzero_ps();
    std::int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
      _mm_prefetch(reinterpret_cast<const char*>(wr + b) + kWeightPrefetchBytes, _MM_HINT_T0);
      vnni_block(wr[b], xq + b, nb, M, acc0);
      vnni_block(wr[b + 1], xq + b + 1, nb, M, acc1);
    }
    if (b < nb) vnni_block(wr[b], xq + b, nb, M, acc0);
    for (int i = 0; i < M; ++i) y[i * ldy + r] = hsum256(_mm256_add_ps(acc0[i], acc1[i]));
  }
}

CHATTERD_BF16 __m512i load_bf16(const BFloat16* p, std::int64_t rest) {
  if (rest >= 32) return _mm512_loadu_si512(p);
  return _mm512_maskz_loadu_epi16(static_cast<__mmask32>((1u << rest) - 1u), p);
}

CHATTERD_BF16 __m512 dp(__m512 acc, __m512i a, __m512i b) {
  return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh&>(a), reinterpret_cast<__m512bh&>(b));
}

// 32 bf16 per register; per row one chain per activation part and half of a 64-wide step.
template <int M>
CHATTERD_BF16 void bf16_rows(const BFloat16* x, std::int64_t ps, std::int64_t k, const BFloat16* w,
                             std::int64_t begin, std::int64_t end, float* y, std::int64_t ldy) {
  for (std::int64_t r = begin; r < end; ++r) {
    const BFloat16* wr = w + r * k;
    __m512 a[M][6];
    for (int i = 0; i < M; ++i) {
      for (auto& v : a[i]) v = _mm512_setzero_ps();
    }
    std::int64_t j = 0;
    for (; j + 64 <= k; j += 64) {
      const __m512i w0 = _mm512_loadu_si512(wr + j);
      const __m512i w1 = _mm512_loadu_si512(wr + j + 32);
      for (int i = 0; i < M; ++i) {
        const BFloat16* xi = x + i * k + j;
        for (int p = 0; p < 3; ++p) {
          a[i][p] = dp(a[i][p], _mm512_loadu_si512(xi + p * ps), w0);
          a[i][3 + p] = dp(a[i][3 + p], _mm512_loadu_si512(xi + p * ps + 32), w1);
        }
      }
    }
    for (; j < k; j += 32) {
      const __m512i w0 = load_bf16(wr + j, k - j);
      for (int i = 0; i < M; ++i) {
        for (int p = 0; p < 3; ++p) {
          a[i][p] = dp(a[i][p], load_bf16(x + p * ps + i * k + j, k - j), w0);
        }
      }
    }
    for (int i = 0; i < M; ++i) {
      const __m512 s = _mm512_add_ps(
          _mm512_add_ps(a[i][0], a[i][3]),
          _mm512_add_ps(_mm512_add_ps(a[i][1], a[i][4]), _mm512_add_ps(a[i][2], a[i][5])));
      y[i * ldy + r] = _mm512_reduce_add_ps(s);
    }
  }
}

}  // namespace

CHATTERD_VNNI void dot_q8_q8_avx512_vnni(const BlockQ8* xq, std::int64_t m, std::int64_t k,
                                         const BlockQ8* w, std::int64_t begin, std::int64_t end,
                                         float* y, std::int64_t ldy) {
  const std::int64_t nb = k / kQ8BlockSize;
  for (std::int64_t i = 0; i < m; i += 2) {
    if (m - i >= 2) {
      vnni_rows<2>(xq + i * nb, nb, w, begin, end, y + i * ldy, ldy);
    } else {
      vnni_rows<1>(xq + i * nb, nb, w, begin, end, y + i * ldy, ldy);
    }
  }
}

CHATTERD_BF16 void dot_bf16_split_avx512_bf16(const BFloat16* x_parts, std::int64_t m,
                                              std::int64_t k, const BFloat16* w, std::int64_t begin,
                                              std::int64_t end, float* y, std::int64_t ldy) {
  const std::int64_t ps = m * k;  // part stride
  for (std::int64_t i = 0; i < m; i += 2) {
    if (m - i >= 2) {
      bf16_rows<2>(x_parts + i * k, ps, k, w, begin, end, y + i * ldy, ldy);
    } else {
      bf16_rows<1>(x_parts + i * k, ps, k, w, begin, end, y + i * ldy, ldy);
    }
  }
}

}  // namespace chatterd::cpu
