#pragma once
// Shared exp() for the SIMD Vec types: range reduction x = n*ln2 + r, a degree-6 polynomial for
// e^r on |r| <= ln2/2, then 2^n by exponent arithmetic. Max relative error about 2 ulp on
// [-87.33, 88.37]; below that the result is 0 (so exp(-inf) == 0, as softmax needs), above it inf.
// Written by hand: no Debian-packaged SIMD math library covers AVX2 and AVX-512 with one source.

namespace chatterd::cpu {

template <class V>
typename V::Reg vec_exp_impl(typename V::Reg x) {
  using Reg = typename V::Reg;
  const Reg hi = V::set1(88.3762626647949f);
  const Reg lo = V::set1(-87.33654022216797f);
  const Reg xc = V::min(V::max(x, lo), hi);
  const Reg n = V::round(V::mul(xc, V::set1(1.44269504088896341f)));
  Reg r = V::fma(n, V::set1(-0.693359375f), xc);  // ln2 split in two for exactness
  r = V::fma(n, V::set1(2.12194440e-4f), r);
  Reg p = V::set1(1.9875691500e-4f);
  p = V::fma(p, r, V::set1(1.3981999507e-3f));
  p = V::fma(p, r, V::set1(8.3334519073e-3f));
  p = V::fma(p, r, V::set1(4.1665795894e-2f));
  p = V::fma(p, r, V::set1(1.6666665459e-1f));
  p = V::fma(p, r, V::set1(5.0000001201e-1f));
  p = V::fma(p, V::mul(r, r), V::add(r, V::set1(1.0f)));
  Reg y = V::mul(p, V::pow2n(n));  // n in [-126, 127]: a normal power of two
  y = V::select_lt(x, lo, V::zero(), y);
  y = V::select_gt(x, hi, V::set1(__builtin_inff()), y);
  return y;
}

}  // namespace chatterd::cpu
