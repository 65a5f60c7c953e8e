#pragma once
// Included only by attention_{scalar,avx2,avx512}.cc; see isa_table.h for the rules.

#include "backends/cpu/attention_kernels.h"

namespace chatterd::cpu {
namespace {  // NOLINT(google-build-namespaces, cert-dcl59-cpp): one private copy per ISA TU

template <class V>
float attn_dot(const float* a, const float* b, std::int64_t n) {
  using Reg = typename V::Reg;
  Reg acc0 = V::zero();
  Reg acc1 = V::zero();
  std::int64_t i = 0;
  for (; i + 2 * V::kWidth <= n; i += 2 * V::kWidth) {
    acc0 = V::fma(V::load(a + i), V::load(b + i), acc0);
    acc1 = V::fma(V::load(a + i + V::kWidth), V::load(b + i + V::kWidth), acc1);
  }
  for (; i + V::kWidth <= n; i += V::kWidth) acc0 = V::fma(V::load(a + i), V::load(b + i), acc0);
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    acc1 = V::fma(V::load_partial(a + i, rest), V::load_partial(b + i, rest), acc1);
  }
  return V::reduce_sum(V::add(acc0, acc1));
}

template <class V>
void attn_axpy(float alpha, const float* x, float* y, std::int64_t n) {
  const typename V::Reg va = V::set1(alpha);
  std::int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth)
    V::store(y + i, V::fma(va, V::load(x + i), V::load(y + i)));
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    V::store_partial(y + i, V::fma(va, V::load_partial(x + i, rest), V::load_partial(y + i, rest)),
                     rest);
  }
}

template <class V>
void attn_scale(float* y, float alpha, std::int64_t n) {
  const typename V::Reg va = V::set1(alpha);
  std::int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) V::store(y + i, V::mul(va, V::load(y + i)));
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    V::store_partial(y + i, V::mul(va, V::load_partial(y + i, rest)), rest);
  }
}

template <class V>
float attn_max(const float* x, std::int64_t n) {
  const float neg_inf = -__builtin_inff();
  typename V::Reg m = V::set1(neg_inf);
  std::int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) m = V::max(m, V::load(x + i));
  float r = V::reduce_max(m);
  for (; i < n; ++i) r = x[i] > r ? x[i] : r;
  return r;
}

template <class V>
float attn_exp_sub_sum(float* x, float m, std::int64_t n) {
  using Reg = typename V::Reg;
  const Reg vm = V::set1(m);
  Reg acc = V::zero();
  std::int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) {
    const Reg e = V::exp(V::sub(V::load(x + i), vm));
    V::store(x + i, e);
    acc = V::add(acc, e);
  }
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    // Lanes past the end load 0 - m; they are neither stored nor summed.
    const Reg e = V::exp(V::sub(V::load_partial(x + i, rest), vm));
    V::store_partial(x + i, e, rest);
    float tail = 0.0f;
    for (std::int64_t j = i; j < n; ++j) tail += x[j];
    return V::reduce_sum(acc) + tail;
  }
  return V::reduce_sum(acc);
}

// Loads of cached rows in either storage dtype.
template <class V>
typename V::Reg load_row(const float* p) {
  return V::load(p);
}
template <class V>
typename V::Reg load_row(const Half* p) {
  return V::load_f16(p);
}
template <class V>
typename V::Reg load_row_partial(const float* p, int n) {
  return V::load_partial(p, n);
}
template <class V>
typename V::Reg load_row_partial(const Half* p, int n) {
  return V::load_f16_partial(p, n);
}

template <class V, class T>
void attn_scores(const float* q, const T* k, std::int64_t n, std::int64_t d, std::int64_t stride,
                 float scale, float* out) {
  using Reg = typename V::Reg;
  constexpr std::int64_t W = V::kWidth;
  for (std::int64_t j = 0; j < n; ++j) {
    const T* kj = k + j * stride;
    Reg acc0 = V::zero();
    Reg acc1 = V::zero();
    std::int64_t i = 0;
    for (; i + 2 * W <= d; i += 2 * W) {
      acc0 = V::fma(V::load(q + i), load_row<V>(kj + i), acc0);
      acc1 = V::fma(V::load(q + i + W), load_row<V>(kj + i + W), acc1);
    }
    for (; i + W <= d; i += W) acc0 = V::fma(V::load(q + i), load_row<V>(kj + i), acc0);
    if (i < d) {
      const int rest = static_cast<int>(d - i);
      acc1 = V::fma(V::load_partial(q + i, rest), load_row_partial<V>(kj + i, rest), acc1);
    }
    out[j] = scale * V::reduce_sum(V::add(acc0, acc1));
  }
}

template <class V, class T>
void attn_accum(const float* p, const T* v, std::int64_t n, std::int64_t d, std::int64_t stride,
                float* out) {
  using Reg = typename V::Reg;
  constexpr std::int64_t W = V::kWidth;
  constexpr std::int64_t kRegs = 4;
  for (std::int64_t i0 = 0; i0 < d; i0 += kRegs * W) {
    const std::int64_t width = d - i0 < kRegs * W ? d - i0 : kRegs * W;
    const std::int64_t full = width / W;  // whole registers in this pass
    const int rest = static_cast<int>(width - full * W);
    Reg acc[kRegs + 1];
    if (full == kRegs && rest == 0) {  // the common pass: a constant trip count keeps acc in regs
      for (std::int64_t r = 0; r < kRegs; ++r) acc[r] = V::load(out + i0 + r * W);
      for (std::int64_t j = 0; j < n; ++j) {
        const Reg pj = V::set1(p[j]);
        const T* vj = v + j * stride + i0;
        for (std::int64_t r = 0; r < kRegs; ++r)
          acc[r] = V::fma(pj, load_row<V>(vj + r * W), acc[r]);
      }
      for (std::int64_t r = 0; r < kRegs; ++r) V::store(out + i0 + r * W, acc[r]);
      continue;
    }
    for (std::int64_t r = 0; r < full; ++r) acc[r] = V::load(out + i0 + r * W);
    if (rest > 0) acc[full] = V::load_partial(out + i0 + full * W, rest);
    for (std::int64_t j = 0; j < n; ++j) {
      const Reg pj = V::set1(p[j]);
      const T* vj = v + j * stride + i0;
      for (std::int64_t r = 0; r < full; ++r) acc[r] = V::fma(pj, load_row<V>(vj + r * W), acc[r]);
      if (rest > 0) acc[full] = V::fma(pj, load_row_partial<V>(vj + full * W, rest), acc[full]);
    }
    for (std::int64_t r = 0; r < full; ++r) V::store(out + i0 + r * W, acc[r]);
    if (rest > 0) V::store_partial(out + i0 + full * W, acc[full], rest);
  }
}

template <class V>
constexpr AttentionKernels make_attention_kernels() {
  return {&attn_dot<V>,          &attn_axpy<V>,         &attn_scale<V>,
          &attn_max<V>,          &attn_exp_sub_sum<V>,  &attn_scores<V, float>,
          &attn_scores<V, Half>, &attn_accum<V, float>, &attn_accum<V, Half>};
}

}  // namespace
}  // namespace chatterd::cpu
