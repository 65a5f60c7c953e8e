#include "backends/cpu/q4_rows.h"

namespace chatterd::cpu {

Q4RowsKernel q4_rows_kernel(CpuIsa isa) {
  static const CpuIsa detected = detect_isa();
  static const bool vnni = detected >= CpuIsa::Avx512 && cpu_has_avx512_vnni();
  if (isa >= CpuIsa::Avx512 && vnni) return &q4_rows_avx512_vnni;
  if (isa >= CpuIsa::Avx2 && detected >= CpuIsa::Avx2) return &q4_rows_avx2;
  return &q4_rows_scalar;
}

void q4_rows_scalar(const Q8RowsActivation& x, std::int64_t row0, std::int64_t m,
                    const std::uint8_t* codes, const Half* scales, std::int64_t begin,
                    std::int64_t end, float* y, std::int64_t ldy) {
  const std::int64_t k = x.k;
  const std::int64_t nb = k / kQ8BlockSize;
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int8_t* xq = x.row_codes(row0 + i);
    const float* xs = x.row_scales(row0 + i);
    for (std::int64_t r = begin; r < end; ++r) {
      const std::uint8_t* row = codes + r * (k / 2);
      float acc = 0.0f;
      for (std::int64_t b = 0; b < nb; ++b) {
        std::int32_t dot = 0;
        for (int t = 0; t < kQ8BlockSize; ++t) {
          const std::int64_t j = b * kQ8BlockSize + t;
          dot += (q4_rows_code(row, j) - kQ4RowsZero) * xq[j];
        }
        acc += half_to_float(scales[r * nb + b]) * xs[b] * static_cast<float>(dot);
      }
      y[i * ldy + r] = acc;
    }
  }
}

void q4_rows_to_f32(const std::uint8_t* codes, const Half* scales, std::int64_t k, std::int64_t r0,
                    std::int64_t r1, float* out) {
  const std::int64_t nb = k / kQ8BlockSize;
  constexpr std::int64_t kHalf = kQ4RowsAlign / 2;
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::uint8_t* row = codes + r * (k / 2);
    float* o = out + (r - r0) * k;
    for (std::int64_t g = 0; g < k / kQ4RowsAlign; ++g) {
      const std::uint8_t* bytes = row + g * kHalf;
      float* og = o + g * kQ4RowsAlign;
      const Half* sg = scales + r * nb + g * (kQ4RowsAlign / kQ8BlockSize);
      for (std::int64_t j = 0; j < kHalf; ++j) {
        og[j] = half_to_float(sg[j / kQ8BlockSize]) * static_cast<float>((bytes[j] & 15) - 8);
        og[kHalf + j] =
            half_to_float(sg[(kHalf + j) / kQ8BlockSize]) * static_cast<float>((bytes[j] >> 4) - 8);
      }
    }
  }
}

}  // namespace chatterd::cpu
