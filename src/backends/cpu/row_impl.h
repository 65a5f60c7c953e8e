#pragma once
// Included only by row_{scalar,avx2,avx512}.cc; see isa_table.h for the rules.

#include "backends/cpu/row_kernels.h"

namespace chatterd::cpu {
namespace {  // NOLINT(google-build-namespaces, cert-dcl59-cpp): one private copy per ISA TU

constexpr float kNegInf = -__builtin_inff();

template <class V>
float row_sum(const float* in, std::int64_t n) {
  using Reg = typename V::Reg;
  constexpr int kW = V::kWidth;
  Reg a0 = V::zero();
  Reg a1 = V::zero();
  std::int64_t i = 0;
  for (; i + 2 * kW <= n; i += 2 * kW) {
    a0 = V::add(a0, V::load(in + i));
    a1 = V::add(a1, V::load(in + i + kW));
  }
  for (; i + kW <= n; i += kW) a0 = V::add(a0, V::load(in + i));
  if (i < n) a1 = V::add(a1, V::load_partial(in + i, static_cast<int>(n - i)));
  return V::reduce_sum(V::add(a0, a1));
}

template <class V>
float row_max(const float* in, std::int64_t n) {
  using Reg = typename V::Reg;
  constexpr int kW = V::kWidth;
  Reg m = V::set1(kNegInf);
  std::int64_t i = 0;
  for (; i + kW <= n; i += kW) m = V::max(m, V::load(in + i));
  float r = V::reduce_max(m);
  for (; i < n; ++i) r = in[i] > r ? in[i] : r;  // tail: a zero-filled lane must not count
  return r;
}

// sum over the row of (x - c)^2
template <class V>
float row_sq_dev(const float* in, std::int64_t n, float c) {
  using Reg = typename V::Reg;
  constexpr int kW = V::kWidth;
  const Reg cv = V::set1(c);
  Reg a0 = V::zero();
  Reg a1 = V::zero();
  std::int64_t i = 0;
  for (; i + 2 * kW <= n; i += 2 * kW) {
    const Reg d0 = V::sub(V::load(in + i), cv);
    const Reg d1 = V::sub(V::load(in + i + kW), cv);
    a0 = V::fma(d0, d0, a0);
    a1 = V::fma(d1, d1, a1);
  }
  for (; i + kW <= n; i += kW) {
    const Reg d = V::sub(V::load(in + i), cv);
    a0 = V::fma(d, d, a0);
  }
  float tail = 0.0f;  // scalar: a zero-filled lane would add c^2
  for (; i < n; ++i) tail += (in[i] - c) * (in[i] - c);
  return V::reduce_sum(V::add(a0, a1)) + tail;
}

template <class V>
void softmax(const float* in, float* out, std::int64_t n) {
  constexpr int kW = V::kWidth;
  const float mx = row_max<V>(in, n);
  if (mx == kNegInf) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = 0.0f;
    return;
  }
  const auto mv = V::set1(mx);
  auto acc = V::zero();
  std::int64_t i = 0;
  for (; i + kW <= n; i += kW) {
    const auto e = V::exp(V::sub(V::load(in + i), mv));
    V::store(out + i, e);
    acc = V::add(acc, e);
  }
  float s = V::reduce_sum(acc);
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    V::store_partial(out + i, V::exp(V::sub(V::load_partial(in + i, rest), mv)), rest);
    for (std::int64_t j = i; j < n; ++j) s += out[j];
  }
  const auto inv = V::set1(1.0f / s);
  for (i = 0; i + kW <= n; i += kW) V::store(out + i, V::mul(V::load(out + i), inv));
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    V::store_partial(out + i, V::mul(V::load_partial(out + i, rest), inv), rest);
  }
}

template <class V>
void log_softmax(const float* in, float* out, std::int64_t n) {
  constexpr int kW = V::kWidth;
  const float mx = row_max<V>(in, n);
  if (mx == kNegInf) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = kNegInf;
    return;
  }
  const auto mv = V::set1(mx);
  auto acc = V::zero();
  std::int64_t i = 0;
  for (; i + kW <= n; i += kW) acc = V::add(acc, V::exp(V::sub(V::load(in + i), mv)));
  float s = V::reduce_sum(acc);
  if (i < n) {  // only the live lanes count: a zero-filled lane would add exp(-max)
    const int rest = static_cast<int>(n - i);
    float tail[V::kWidth];
    V::store(tail, V::exp(V::sub(V::load_partial(in + i, rest), mv)));
    for (int j = 0; j < rest; ++j) s += tail[j];
  }
  // (x - max) - log(sum): folding max + log(sum) into one constant would round it to the ulp of
  // max.
  const auto logs = V::set1(__builtin_logf(s));
  for (i = 0; i + kW <= n; i += kW) {
    V::store(out + i, V::sub(V::sub(V::load(in + i), mv), logs));
  }
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    V::store_partial(out + i, V::sub(V::sub(V::load_partial(in + i, rest), mv), logs), rest);
  }
}

// out = (x - a) * r [* gamma] [+ beta]
template <class V>
void normalize(const float* in, const float* gamma, const float* beta, float* out, std::int64_t n,
               float a, float r) {
  constexpr int kW = V::kWidth;
  const auto av = V::set1(a);
  const auto rv = V::set1(r);
  auto one = [&](std::int64_t i, int width) {
    auto y = V::mul(V::sub(V::load_partial(in + i, width), av), rv);
    if (gamma != nullptr) y = V::mul(y, V::load_partial(gamma + i, width));
    if (beta != nullptr) y = V::add(y, V::load_partial(beta + i, width));
    V::store_partial(out + i, y, width);
  };
  std::int64_t i = 0;
  for (; i + kW <= n; i += kW) {
    auto y = V::mul(V::sub(V::load(in + i), av), rv);
    if (gamma != nullptr) y = V::mul(y, V::load(gamma + i));
    if (beta != nullptr) y = V::add(y, V::load(beta + i));
    V::store(out + i, y);
  }
  if (i < n) one(i, static_cast<int>(n - i));
}

template <class V>
void layer_norm(const float* in, const float* gamma, const float* beta, float* out, std::int64_t n,
                float eps) {
  if (n == 0) return;
  const float mean = row_sum<V>(in, n) / static_cast<float>(n);
  const float var = row_sq_dev<V>(in, n, mean) / static_cast<float>(n);
  normalize<V>(in, gamma, beta, out, n, mean, 1.0f / __builtin_sqrtf(var + eps));
}

template <class V>
void rms_norm(const float* in, const float* gamma, float* out, std::int64_t n, float eps) {
  if (n == 0) return;
  const float ms = row_sq_dev<V>(in, n, 0.0f) / static_cast<float>(n);
  normalize<V>(in, gamma, nullptr, out, n, 0.0f, 1.0f / __builtin_sqrtf(ms + eps));
}

template <class V>
constexpr RowKernels make_row_kernels() {
  return {&softmax<V>, &log_softmax<V>, &layer_norm<V>, &rms_norm<V>, &row_sum<V>, &row_max<V>};
}

}  // namespace
}  // namespace chatterd::cpu
