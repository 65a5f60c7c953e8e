#include "backends/cpu/q8_rows.h"

#include "backends/cpu/qdot_kernels.h"
#include "chatterd/core/dtype.h"
#include "core/check.h"

namespace chatterd::cpu {

void Q8RowsActivation::prepare(const float* x, std::int64_t rows, std::int64_t cols,
                               std::int64_t ldx, std::int32_t weight_zero, CpuIsa isa) {
  static const CpuIsa detected = detect_isa();
  CHATTERD_CHECK(cols % (2 * kQ8BlockSize) == 0, ShapeError,
                 "Q8RowsActivation: {} values a row are not whole pairs of blocks", cols);
  m = rows;
  k = cols;
  const std::int64_t nb = cols / kQ8BlockSize;
  codes.resize(static_cast<std::size_t>(rows * cols));
  scales.resize(static_cast<std::size_t>(rows * nb));
  starts.assign(static_cast<std::size_t>(rows * (nb / 2) * 16), 0);
  if (isa >= CpuIsa::Avx512 && detected >= CpuIsa::Avx512) {
    for (std::int64_t i = 0; i < rows; ++i) {
      q8_rows_prepare_row_avx512(x + i * ldx, nb, weight_zero, codes.data() + i * cols,
                                 scales.data() + i * nb, starts.data() + i * (nb / 2) * 16);
    }
    return;
  }
  blocks_.resize(static_cast<std::size_t>(nb));
  for (std::int64_t i = 0; i < rows; ++i) {
    quantize_row_q8_0(x + i * ldx, blocks_.data(), nb);
    for (std::int64_t b = 0; b < nb; ++b) {
      const BlockQ8& blk = blocks_[static_cast<std::size_t>(b)];
      scales[static_cast<std::size_t>(i * nb + b)] = blk.scale;
      std::int32_t sum = 0;
      for (int t = 0; t < kQ8BlockSize; ++t) {
        codes[static_cast<std::size_t>(i * cols + b * kQ8BlockSize + t)] = blk.q[t];
        sum += blk.q[t];
      }
      starts[static_cast<std::size_t>((i * (nb / 2) + b / 2) * 16 + (b % 2) * 8)] =
          -weight_zero * sum;
    }
  }
}

Q8RowsKernel q8_rows_kernel(CpuIsa isa) {
  static const bool vnni = detect_isa() >= CpuIsa::Avx512 && cpu_has_avx512_vnni();
  return isa >= CpuIsa::Avx512 && vnni ? &q8_rows_avx512_vnni : nullptr;
}

void q8_rows_scalar(const Q8RowsActivation& x, std::int64_t row0, std::int64_t m,
                    const std::uint8_t* codes, const float* scales, std::int64_t begin,
                    std::int64_t end, float* y, std::int64_t ldy) {
  const std::int64_t k = x.k;
  const std::int64_t nb = k / kQ8BlockSize;
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int8_t* xq = x.row_codes(row0 + i);
    const float* xs = x.row_scales(row0 + i);
    for (std::int64_t r = begin; r < end; ++r) {
      float acc = 0.0f;
      for (std::int64_t b = 0; b < nb; ++b) {
        std::int32_t dot = 0;
        for (int t = 0; t < kQ8BlockSize; ++t) {
          const std::int64_t j = b * kQ8BlockSize + t;
          dot += (static_cast<std::int32_t>(codes[r * k + j]) - 128) * xq[j];
        }
        acc += scales[r * nb + b] * xs[b] * static_cast<float>(dot);
      }
      y[i * ldy + r] = acc;
    }
  }
}

}  // namespace chatterd::cpu
