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

}  // namespace

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
