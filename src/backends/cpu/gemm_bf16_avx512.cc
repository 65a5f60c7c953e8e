// The vdpbf16ps GEMM tile (gemm_bf16.h). Compiled into the AVX-512 TU but behind its own target
// attribute: it runs only where cpuid reports AVX512_BF16 (gemm_bf16.cc checks).
//
// 8 rows x 32 columns: 16 zmm accumulators, two panel loads and eight 32-bit broadcasts per pair
// of k, so the loop issues one vdpbf16ps per cycle from L1/L2 (Zen 4 runs one zmm vdpbf16ps per
// cycle with latency 6: 16 independent chains keep it busy).
#include <immintrin.h>

#include <cstring>

#include "backends/cpu/gemm_bf16.h"

#define CHATTERD_BF16 __attribute__((target("avx512bf16,avx512vl,avx512bw,avx512f,avx2,fma")))

namespace chatterd::cpu {
namespace {  // NOLINT(google-build-namespaces, cert-dcl59-cpp): one private copy per ISA TU

CHATTERD_BF16 inline __m512 dp(__m512 acc, __m512i a, __m512i b) {
  return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh&>(a), reinterpret_cast<__m512bh&>(b));
}

CHATTERD_BF16 inline __m512i broadcast_pair(const BFloat16* p) {
  std::int32_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return _mm512_set1_epi32(v);
}

template <int R>
CHATTERD_BF16 void tile_rows(const BFloat16* const* a, int segments, std::int64_t seg_pairs,
                             const BFloat16* panel, float* out) {
  __m512 acc0[R];
  __m512 acc1[R];
  for (int r = 0; r < R; ++r) {
    acc0[r] = _mm512_setzero_ps();
    acc1[r] = _mm512_setzero_ps();
  }
  const BFloat16* b = panel;
  for (int s = 0; s < segments; ++s) {
    const BFloat16* ar[R];
    for (int r = 0; r < R; ++r) ar[r] = a[s * kGemmRows + r];
    for (std::int64_t p = 0; p < seg_pairs; ++p, b += 2 * kPanelCols) {
      const __m512i b0 = _mm512_loadu_si512(b);
      const __m512i b1 = _mm512_loadu_si512(b + kPanelCols);
      for (int r = 0; r < R; ++r) {
        const __m512i av = broadcast_pair(ar[r] + 2 * p);
        acc0[r] = dp(acc0[r], av, b0);
        acc1[r] = dp(acc1[r], av, b1);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    _mm512_storeu_ps(out + r * kPanelCols, acc0[r]);
    _mm512_storeu_ps(out + r * kPanelCols + 16, acc1[r]);
  }
  for (int r = R; r < kGemmRows; ++r) {
    _mm512_storeu_ps(out + r * kPanelCols, _mm512_setzero_ps());
    _mm512_storeu_ps(out + r * kPanelCols + 16, _mm512_setzero_ps());
  }
}

// r[i] (16 rows of 16 floats) -> r[i] = column i, in registers.
CHATTERD_BF16 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 16; i += 8) {
    for (int j = 0; j < 4; ++j) {
      t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0x88);
      t[i + j + 4] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0xdd);
    }
  }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
  }
}

}  // namespace

CHATTERD_BF16 void frames_to_bf16_avx512_bf16(const float* x, std::int64_t frames, std::int64_t c0,
                                              std::int64_t c1, std::int64_t t0, std::int64_t t1,
                                              BFloat16* out, std::int64_t ldo) {
  std::int64_t c = c0;
  for (; c + 16 <= c1; c += 16) {
    std::int64_t t = t0;
    for (; t + 16 <= t1; t += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(x + (c + i) * frames + t);
      transpose16(r);
      for (int i = 0; i < 16; ++i) {
        const __m256bh v = _mm512_cvtneps_pbh(r[i]);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + (t + i) * ldo + c),
                            reinterpret_cast<const __m256i&>(v));
      }
    }
    for (; t < t1; ++t) {
      for (int i = 0; i < 16; ++i) out[t * ldo + c + i] = float_to_bf16(x[(c + i) * frames + t]);
    }
  }
  for (; c < c1; ++c) {
    for (std::int64_t t = t0; t < t1; ++t) out[t * ldo + c] = float_to_bf16(x[c * frames + t]);
  }
}

CHATTERD_BF16 void gemm_bf16_tile_avx512_bf16(const BFloat16* const* a, int rows, int segments,
                                              std::int64_t seg_pairs, const BFloat16* panel,
                                              float* out) {
  switch (rows) {
    case 8:
      return tile_rows<8>(a, segments, seg_pairs, panel, out);
    case 7:
      return tile_rows<7>(a, segments, seg_pairs, panel, out);
    case 6:
      return tile_rows<6>(a, segments, seg_pairs, panel, out);
    case 5:
      return tile_rows<5>(a, segments, seg_pairs, panel, out);
    case 4:
      return tile_rows<4>(a, segments, seg_pairs, panel, out);
    case 3:
      return tile_rows<3>(a, segments, seg_pairs, panel, out);
    case 2:
      return tile_rows<2>(a, segments, seg_pairs, panel, out);
    default:
      return tile_rows<1>(a, segments, seg_pairs, panel, out);
  }
}

}  // namespace chatterd::cpu
