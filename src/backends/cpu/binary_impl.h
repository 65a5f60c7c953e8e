#pragma once
// Included only by binary_{scalar,avx2,avx512}.cc; see isa_table.h for the rules.

#include "backends/cpu/binary_kernels.h"

namespace chatterd::cpu {
namespace {  // NOLINT(google-build-namespaces, cert-dcl59-cpp): one private copy per ISA TU

template <class V, BinaryOp kOp>
typename V::Reg apply(typename V::Reg a, typename V::Reg b) {
  if constexpr (kOp == BinaryOp::Add) return V::add(a, b);
  if constexpr (kOp == BinaryOp::Sub) return V::sub(a, b);
  if constexpr (kOp == BinaryOp::Mul) return V::mul(a, b);
  if constexpr (kOp == BinaryOp::Div) return V::div(a, b);
}

template <class V, BinaryOp kOp>
void vv(const float* a, const float* b, float* out, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) {
    V::store(out + i, apply<V, kOp>(V::load(a + i), V::load(b + i)));
  }
  if (i < n) {
    const int r = static_cast<int>(n - i);
    V::store_partial(out + i, apply<V, kOp>(V::load_partial(a + i, r), V::load_partial(b + i, r)),
                     r);
  }
}

template <class V, BinaryOp kOp>
void vs(const float* a, float b, float* out, std::int64_t n) {
  const auto bv = V::set1(b);
  std::int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) V::store(out + i, apply<V, kOp>(V::load(a + i), bv));
  if (i < n) {
    const int r = static_cast<int>(n - i);
    V::store_partial(out + i, apply<V, kOp>(V::load_partial(a + i, r), bv), r);
  }
}

template <class V, BinaryOp kOp>
void sv(float a, const float* b, float* out, std::int64_t n) {
  const auto av = V::set1(a);
  std::int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) V::store(out + i, apply<V, kOp>(av, V::load(b + i)));
  if (i < n) {
    const int r = static_cast<int>(n - i);
    V::store_partial(out + i, apply<V, kOp>(av, V::load_partial(b + i, r)), r);
  }
}

template <class V>
constexpr BinaryKernels make_binary_kernels() {
  return {
      {&vv<V, BinaryOp::Add>, &vv<V, BinaryOp::Sub>, &vv<V, BinaryOp::Mul>, &vv<V, BinaryOp::Div>},
      {&vs<V, BinaryOp::Add>, &vs<V, BinaryOp::Sub>, &vs<V, BinaryOp::Mul>, &vs<V, BinaryOp::Div>},
      {&sv<V, BinaryOp::Add>, &sv<V, BinaryOp::Sub>, &sv<V, BinaryOp::Mul>, &sv<V, BinaryOp::Div>}};
}

}  // namespace
}  // namespace chatterd::cpu
