#pragma once
// Included only by unary_{scalar,avx2,avx512}.cc; see isa_table.h for the rules.

#include "backends/cpu/unary_kernels.h"
#include "backends/cpu/vec_math.h"

namespace chatterd::cpu {
namespace {  // NOLINT(google-build-namespaces, cert-dcl59-cpp): one private copy per ISA TU

template <class V, class F>
void map(const float* in, float* out, std::int64_t n, const F& f) {
  std::int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) V::store(out + i, f(V::load(in + i)));
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    V::store_partial(out + i, f(V::load_partial(in + i, rest)), rest);
  }
}

template <class V>
void relu(const float* in, float* out, std::int64_t n) {
  map<V>(in, out, n, [](typename V::Reg x) { return V::max(V::zero(), x); });
}

template <class V>
void gelu(const float* in, float* out, std::int64_t n) {
  map<V>(in, out, n, [](typename V::Reg x) {
    const auto e = vec_erf<V>(V::mul(x, V::set1(0.707106781186547524f)));
    return V::mul(V::mul(V::set1(0.5f), x), V::add(V::set1(1.0f), e));
  });
}

template <class V>
void gelu_tanh(const float* in, float* out, std::int64_t n) {
  map<V>(in, out, n, [](typename V::Reg x) {
    const auto x3 = V::mul(V::mul(x, x), x);
    const auto inner = V::mul(V::set1(0.797884560802865356f), V::fma(V::set1(0.044715f), x3, x));
    return V::mul(V::mul(V::set1(0.5f), x), V::add(V::set1(1.0f), vec_tanh<V>(inner)));
  });
}

template <class V>
void silu(const float* in, float* out, std::int64_t n) {
  map<V>(in, out, n, [](typename V::Reg x) { return V::mul(x, vec_sigmoid<V>(x)); });
}

// tanh(log(1 + e^x)) = e^x (e^x + 2) / (e^x (e^x + 2) + 2): no log, no cancellation.
template <class V>
void mish(const float* in, float* out, std::int64_t n) {
  map<V>(in, out, n, [](typename V::Reg x) {
    const auto t = V::min(x, V::set1(20.0f));
    const auto e = V::exp(t);
    const auto num = V::mul(e, V::add(e, V::set1(2.0f)));
    const auto y = V::mul(x, V::div(num, V::add(num, V::set1(2.0f))));
    return V::select_gt(x, V::set1(20.0f), x, y);
  });
}

template <class V>
void tanh(const float* in, float* out, std::int64_t n) {
  map<V>(in, out, n, [](typename V::Reg x) { return vec_tanh<V>(x); });
}

template <class V>
void sigmoid(const float* in, float* out, std::int64_t n) {
  map<V>(in, out, n, [](typename V::Reg x) { return vec_sigmoid<V>(x); });
}

template <class V>
void exp(const float* in, float* out, std::int64_t n) {
  map<V>(in, out, n, [](typename V::Reg x) { return V::exp(x); });
}

template <class V>
void leaky_relu(const float* in, float* out, std::int64_t n, float slope) {
  const auto s = V::set1(slope);
  map<V>(in, out, n,
         [s](typename V::Reg x) { return V::select_gt(x, V::zero(), x, V::mul(s, x)); });
}

template <class V>
void elu(const float* in, float* out, std::int64_t n, float alpha) {
  const auto a = V::set1(alpha);
  map<V>(in, out, n, [a](typename V::Reg x) {
    const auto neg = V::mul(a, V::sub(V::exp(V::min(x, V::zero())), V::set1(1.0f)));
    return V::select_gt(x, V::zero(), x, neg);
  });
}

template <class V>
void snake(const float* in, float* out, std::int64_t n, float alpha) {
  const auto a = V::set1(alpha);
  const auto inv = V::set1(1.0f / (alpha + 1e-9f));
  map<V>(in, out, n,
         [a, inv](typename V::Reg x) { return V::fma(vec_sin2<V>(V::mul(a, x)), inv, x); });
}

template <class V>
void scale(const float* in, float* out, std::int64_t n, float s) {
  const auto sv = V::set1(s);
  map<V>(in, out, n, [sv](typename V::Reg x) { return V::mul(x, sv); });
}

template <class V>
void add_scalar(const float* in, float* out, std::int64_t n, float s) {
  const auto sv = V::set1(s);
  map<V>(in, out, n, [sv](typename V::Reg x) { return V::add(x, sv); });
}

template <class V>
constexpr UnaryKernels make_unary_kernels() {
  return {&relu<V>, &gelu<V>,       &gelu_tanh<V>, &silu<V>,  &mish<V>,  &tanh<V>,      &sigmoid<V>,
          &exp<V>,  &leaky_relu<V>, &elu<V>,       &snake<V>, &scale<V>, &add_scalar<V>};
}

}  // namespace
}  // namespace chatterd::cpu
