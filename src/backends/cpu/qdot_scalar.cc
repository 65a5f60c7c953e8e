// Scalar q8 x q8 kernel and the activation preparation shared by every variant. Compiled for the
// baseline ISA.
#include <cmath>
#include <limits>

#include "backends/cpu/qdot_kernels.h"

namespace chatterd::cpu {

void quantize_row_q8_0(const float* x, BlockQ8* out, std::int64_t n_blocks) {
  for (std::int64_t b = 0; b < n_blocks; ++b) {
    const float* src = x + b * kQ8BlockSize;
    float amax = 0.0f;
    bool finite = true;
    for (int j = 0; j < kQ8BlockSize; ++j) {
      finite = finite && std::isfinite(src[j]);
      amax = std::fmax(amax, std::fabs(src[j]));
    }
    // A non-finite activation must not vanish: a NaN scale with zero codes makes the dot NaN.
    const float scale = finite ? amax / 127.0f : std::numeric_limits<float>::quiet_NaN();
    // 1 / scale overflows below amax ~ 4e-37: such blocks get zero codes (never inf x 0).
    const float inv = finite && scale > 0.0f && 1.0f / scale <= std::numeric_limits<float>::max()
                          ? 1.0f / scale
                          : 0.0f;
    out[b].scale = scale;
    for (int j = 0; j < kQ8BlockSize; ++j) {
      // Half away from zero via truncation: inlined (std::round is a libcall on baseline x86-64)
      // and |v| <= 127 (+ rounding of inv) so the code stays within [-127, 127].
      const float v = finite ? src[j] * inv : 0.0f;
      const int q = static_cast<int>(v + (v >= 0.0f ? 0.5f : -0.5f));
      out[b].q[j] = static_cast<std::int8_t>(q > 127 ? 127 : (q < -127 ? -127 : q));
    }
  }
}

void split_bf16(const float* x, BFloat16* parts, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const BFloat16 hi = float_to_bf16(x[i]);
    const float r1 = x[i] - bf16_to_float(hi);  // exact (Sterbenz-like: same binade)
    const BFloat16 mid = float_to_bf16(r1);
    parts[i] = hi;
    parts[n + i] = mid;
    parts[2 * n + i] = float_to_bf16(r1 - bf16_to_float(mid));
  }
}

void dot_q8_q8_scalar(const BlockQ8* xq, std::int64_t m, std::int64_t k, const BlockQ8* w,
                      std::int64_t begin, std::int64_t end, float* y, std::int64_t ldy) {
  const std::int64_t nb = k / kQ8BlockSize;
  for (std::int64_t r = begin; r < end; ++r) {
    const BlockQ8* wr = w + r * nb;
    for (std::int64_t i = 0; i < m; ++i) {
      const BlockQ8* xr = xq + i * nb;
      float acc = 0.0f;
      for (std::int64_t b = 0; b < nb; ++b) {
        std::int32_t s = 0;
        for (int j = 0; j < kQ8BlockSize; ++j) {
          s += static_cast<std::int32_t>(xr[b].q[j]) * static_cast<std::int32_t>(wr[b].q[j]);
        }
        acc += xr[b].scale * wr[b].scale * static_cast<float>(s);
      }
      y[i * ldy + r] = acc;
    }
  }
}

}  // namespace chatterd::cpu
