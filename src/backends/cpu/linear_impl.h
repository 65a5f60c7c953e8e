#pragma once
// Included only by linear_{scalar,avx2,avx512}.cc; see isa_table.h for the rules.

#include "backends/cpu/linear_kernels.h"

namespace chatterd::cpu {
namespace {  // NOLINT(google-build-namespaces, cert-dcl59-cpp): one private copy per ISA TU

// Loads kWidth weights of one plain dtype as floats.
template <class V, class W>
struct WeightLoader;
template <class V>
struct WeightLoader<V, float> {
  static typename V::Reg load(const float* p) { return V::load(p); }
  static typename V::Reg load_partial(const float* p, int n) { return V::load_partial(p, n); }
};
template <class V>
struct WeightLoader<V, Half> {
  static typename V::Reg load(const Half* p) { return V::load_f16(p); }
  static typename V::Reg load_partial(const Half* p, int n) { return V::load_f16_partial(p, n); }
};
template <class V>
struct WeightLoader<V, BFloat16> {
  static typename V::Reg load(const BFloat16* p) { return V::load_bf16(p); }
  static typename V::Reg load_partial(const BFloat16* p, int n) {
    return V::load_bf16_partial(p, n);
  }
};

// M input rows (1..4) against weight rows [begin, end); two accumulators per input row so that
// even M == 1 has two independent FMA chains.
template <class V, class W, int M>
void dot_rows(const float* x, std::int64_t k, const W* w, std::int64_t begin, std::int64_t end,
              float* y, std::int64_t ldy) {
  using Reg = typename V::Reg;
  using L = WeightLoader<V, W>;
  constexpr int kW = V::kWidth;
  for (std::int64_t r = begin; r < end; ++r) {
    const W* wr = w + r * k;
    Reg acc0[M];
    Reg acc1[M];
    for (int i = 0; i < M; ++i) {
      acc0[i] = V::zero();
      acc1[i] = V::zero();
    }
    std::int64_t j = 0;
    for (; j + 2 * kW <= k; j += 2 * kW) {
      const Reg w0 = L::load(wr + j);
      const Reg w1 = L::load(wr + j + kW);
      for (int i = 0; i < M; ++i) {
        acc0[i] = V::fma(V::load(x + i * k + j), w0, acc0[i]);
        acc1[i] = V::fma(V::load(x + i * k + j + kW), w1, acc1[i]);
      }
    }
    for (; j + kW <= k; j += kW) {
      const Reg w0 = L::load(wr + j);
      for (int i = 0; i < M; ++i) acc0[i] = V::fma(V::load(x + i * k + j), w0, acc0[i]);
    }
    if (j < k) {
      const int rest = static_cast<int>(k - j);
      const Reg w0 = L::load_partial(wr + j, rest);
      for (int i = 0; i < M; ++i) {
        acc1[i] = V::fma(V::load_partial(x + i * k + j, rest), w0, acc1[i]);
      }
    }
    for (int i = 0; i < M; ++i) y[i * ldy + r] = V::reduce_sum(V::add(acc0[i], acc1[i]));
  }
}

template <class V, int M>
void dot_rows_q8(const float* x, std::int64_t k, const BlockQ8* w, std::int64_t begin,
                 std::int64_t end, float* y, std::int64_t ldy) {
  using Reg = typename V::Reg;
  constexpr int kW = V::kWidth;
  const std::int64_t nb = k / kQ8BlockSize;
  for (std::int64_t r = begin; r < end; ++r) {
    const BlockQ8* wr = w + r * nb;
    Reg acc[M];
    for (int i = 0; i < M; ++i) acc[i] = V::zero();
    for (std::int64_t b = 0; b < nb; ++b) {
      const BlockQ8& blk = wr[b];
      Reg t[M];
      for (int i = 0; i < M; ++i) t[i] = V::zero();
      for (int u = 0; u < kQ8BlockSize; u += kW) {
        const Reg q = V::load_i8(blk.q + u);
        for (int i = 0; i < M; ++i) {
          t[i] = V::fma(V::load(x + i * k + b * kQ8BlockSize + u), q, t[i]);
        }
      }
      const Reg s = V::set1(blk.scale);
      for (int i = 0; i < M; ++i) acc[i] = V::fma(s, t[i], acc[i]);
    }
    for (int i = 0; i < M; ++i) y[i * ldy + r] = V::reduce_sum(acc[i]);
  }
}

// Weight columns [begin, end) of a [k, n] weight; a block of 2*kWidth columns at a time, the
// accumulators for all M rows held in registers while the k weight rows stream past.
template <class V, class W, int M>
void axpy_cols(const float* x, std::int64_t k, const W* w, std::int64_t n, std::int64_t begin,
               std::int64_t end, float* y, std::int64_t ldy) {
  using Reg = typename V::Reg;
  using L = WeightLoader<V, W>;
  constexpr int kW = V::kWidth;
  std::int64_t c = begin;
  for (; c + 2 * kW <= end; c += 2 * kW) {
    Reg acc0[M];
    Reg acc1[M];
    for (int i = 0; i < M; ++i) {
      acc0[i] = V::zero();
      acc1[i] = V::zero();
    }
    for (std::int64_t j = 0; j < k; ++j) {
      const Reg w0 = L::load(w + j * n + c);
      const Reg w1 = L::load(w + j * n + c + kW);
      for (int i = 0; i < M; ++i) {
        const Reg xv = V::set1(x[i * k + j]);
        acc0[i] = V::fma(xv, w0, acc0[i]);
        acc1[i] = V::fma(xv, w1, acc1[i]);
      }
    }
    for (int i = 0; i < M; ++i) {
      V::store(y + i * ldy + c, acc0[i]);
      V::store(y + i * ldy + c + kW, acc1[i]);
    }
  }
  for (; c < end; c += kW) {
    const int width = end - c < kW ? static_cast<int>(end - c) : kW;
    Reg acc[M];
    for (int i = 0; i < M; ++i) acc[i] = V::zero();
    for (std::int64_t j = 0; j < k; ++j) {
      const Reg w0 = L::load_partial(w + j * n + c, width);
      for (int i = 0; i < M; ++i) acc[i] = V::fma(V::set1(x[i * k + j]), w0, acc[i]);
    }
    for (int i = 0; i < M; ++i) V::store_partial(y + i * ldy + c, acc[i], width);
  }
}

template <class V, int M>
void axpy_cols_q8(const float* x, std::int64_t k, const BlockQ8* w, std::int64_t n,
                  std::int64_t begin, std::int64_t end, float* y, std::int64_t ldy) {
  using Reg = typename V::Reg;
  constexpr int kW = V::kWidth;
  constexpr int kU = kQ8BlockSize / kW;
  const std::int64_t nb = n / kQ8BlockSize;
  for (std::int64_t cb = begin / kQ8BlockSize; cb * kQ8BlockSize < end; ++cb) {
    Reg acc[M][kU];
    for (int i = 0; i < M; ++i) {
      for (int u = 0; u < kU; ++u) acc[i][u] = V::zero();
    }
    for (std::int64_t j = 0; j < k; ++j) {
      const BlockQ8& blk = w[j * nb + cb];
      for (int i = 0; i < M; ++i) {
        const Reg xs = V::set1(x[i * k + j] * blk.scale);
        for (int u = 0; u < kU; ++u) acc[i][u] = V::fma(xs, V::load_i8(blk.q + u * kW), acc[i][u]);
      }
    }
    for (int i = 0; i < M; ++i) {
      for (int u = 0; u < kU; ++u) V::store(y + i * ldy + cb * kQ8BlockSize + u * kW, acc[i][u]);
    }
  }
}

// Splits the input rows into groups of at most 4 (a template instance each).
template <class V, class W>
void dot(const float* x, std::int64_t m, std::int64_t k, const W* w, std::int64_t begin,
         std::int64_t end, float* y, std::int64_t ldy) {
  for (std::int64_t i = 0; i < m; i += 4) {
    const float* xi = x + i * k;
    float* yi = y + i * ldy;
    switch (m - i) {
      case 1:
        dot_rows<V, W, 1>(xi, k, w, begin, end, yi, ldy);
        break;
      case 2:
        dot_rows<V, W, 2>(xi, k, w, begin, end, yi, ldy);
        break;
      case 3:
        dot_rows<V, W, 3>(xi, k, w, begin, end, yi, ldy);
        break;
      default:
        dot_rows<V, W, 4>(xi, k, w, begin, end, yi, ldy);
        break;
    }
  }
}

template <class V>
void dot_q8(const float* x, std::int64_t m, std::int64_t k, const BlockQ8* w, std::int64_t begin,
            std::int64_t end, float* y, std::int64_t ldy) {
  for (std::int64_t i = 0; i < m; i += 4) {
    const float* xi = x + i * k;
    float* yi = y + i * ldy;
    switch (m - i) {
      case 1:
        dot_rows_q8<V, 1>(xi, k, w, begin, end, yi, ldy);
        break;
      case 2:
        dot_rows_q8<V, 2>(xi, k, w, begin, end, yi, ldy);
        break;
      case 3:
        dot_rows_q8<V, 3>(xi, k, w, begin, end, yi, ldy);
        break;
      default:
        dot_rows_q8<V, 4>(xi, k, w, begin, end, yi, ldy);
        break;
    }
  }
}

template <class V, class W>
void axpy(const float* x, std::int64_t m, std::int64_t k, const W* w, std::int64_t n,
          std::int64_t begin, std::int64_t end, float* y, std::int64_t ldy) {
  for (std::int64_t i = 0; i < m; i += 4) {
    const float* xi = x + i * k;
    float* yi = y + i * ldy;
    switch (m - i) {
      case 1:
        axpy_cols<V, W, 1>(xi, k, w, n, begin, end, yi, ldy);
        break;
      case 2:
        axpy_cols<V, W, 2>(xi, k, w, n, begin, end, yi, ldy);
        break;
      case 3:
        axpy_cols<V, W, 3>(xi, k, w, n, begin, end, yi, ldy);
        break;
      default:
        axpy_cols<V, W, 4>(xi, k, w, n, begin, end, yi, ldy);
        break;
    }
  }
}

template <class V>
void axpy_q8(const float* x, std::int64_t m, std::int64_t k, const BlockQ8* w, std::int64_t n,
             std::int64_t begin, std::int64_t end, float* y, std::int64_t ldy) {
  for (std::int64_t i = 0; i < m; i += 4) {
    const float* xi = x + i * k;
    float* yi = y + i * ldy;
    switch (m - i) {
      case 1:
        axpy_cols_q8<V, 1>(xi, k, w, n, begin, end, yi, ldy);
        break;
      case 2:
        axpy_cols_q8<V, 2>(xi, k, w, n, begin, end, yi, ldy);
        break;
      default:  // 3 and 4 rows: two passes keep the accumulators in registers
        axpy_cols_q8<V, 2>(xi, k, w, n, begin, end, yi, ldy);
        axpy_q8<V>(xi + 2 * k, m - i - 2 < 2 ? m - i - 2 : 2, k, w, n, begin, end, yi + 2 * ldy,
                   ldy);
        break;
    }
  }
}

template <class V>
void q8_0_to_f32(const BlockQ8* in, float* out, std::int64_t n_blocks) {
  constexpr int kW = V::kWidth;
  for (std::int64_t b = 0; b < n_blocks; ++b) {
    const typename V::Reg s = V::set1(in[b].scale);
    for (int u = 0; u < kQ8BlockSize; u += kW) {
      V::store(out + b * kQ8BlockSize + u, V::mul(s, V::load_i8(in[b].q + u)));
    }
  }
}

template <class V>
constexpr LinearKernels make_linear_kernels() {
  return {&dot<V, float>, &dot<V, Half>,      &dot<V, BFloat16>, &dot_q8<V>,     &axpy<V, float>,
          &axpy<V, Half>, &axpy<V, BFloat16>, &axpy_q8<V>,       &q8_0_to_f32<V>};
}

}  // namespace
}  // namespace chatterd::cpu
