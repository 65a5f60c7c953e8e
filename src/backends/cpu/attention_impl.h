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

template <class V>
constexpr AttentionKernels make_attention_kernels() {
  return {&attn_dot<V>, &attn_axpy<V>, &attn_scale<V>, &attn_max<V>, &attn_exp_sub_sum<V>};
}

}  // namespace
}  // namespace chatterd::cpu
