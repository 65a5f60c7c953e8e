#pragma once
// Transcendental helpers written once over the Vec interface (like vec_exp.h). Each is a template
// over V, so every ISA gets its own instantiation. Accuracy (f32, checked in the op tests):
//   vec_tanh  : Eigen's rational approximation on [-7.9988, 7.9988] (saturates beyond), a few ulp;
//               |x| < 4e-4 returns x.
//   vec_erf   : rational approximation on [-4, 4] (erf is +-1 in f32 beyond), abs error ~1e-7.
//   vec_sigmoid: 1 / (1 + exp(-x)).
//   vec_sin2  : sin(x)^2 by reduction modulo pi (3-part Cody-Waite, exact for |x| < ~2e5) and a
//               degree-15 odd Taylor polynomial on [-pi/2, pi/2] (truncation error < 1e-11).

namespace chatterd::cpu {

template <class V>
typename V::Reg vec_tanh(typename V::Reg x0) {
  using Reg = typename V::Reg;
  const Reg clamp = V::set1(7.99881172180175781f);
  const Reg x = V::max(V::min(x0, clamp), V::sub(V::zero(), clamp));
  const Reg x2 = V::mul(x, x);
  Reg p = V::set1(-2.76076847742355e-16f);
  p = V::fma(x2, p, V::set1(2.00018790482477e-13f));
  p = V::fma(x2, p, V::set1(-8.60467152213735e-11f));
  p = V::fma(x2, p, V::set1(5.12229709037114e-08f));
  p = V::fma(x2, p, V::set1(1.48572235717979e-05f));
  p = V::fma(x2, p, V::set1(6.37261928875436e-04f));
  p = V::fma(x2, p, V::set1(4.89352455891786e-03f));
  p = V::mul(x, p);
  Reg q = V::set1(1.19825839466702e-06f);
  q = V::fma(x2, q, V::set1(1.18534705686654e-04f));
  q = V::fma(x2, q, V::set1(2.26843463243900e-03f));
  q = V::fma(x2, q, V::set1(4.89352518554385e-03f));
  const Reg r = V::div(p, q);
  return V::select_lt(V::abs(x), V::set1(0.0004f), x, r);
}

template <class V>
typename V::Reg vec_erf(typename V::Reg x0) {
  using Reg = typename V::Reg;
  const Reg x = V::max(V::min(x0, V::set1(4.0f)), V::set1(-4.0f));
  const Reg x2 = V::mul(x, x);
  Reg p = V::set1(-2.72614225801306e-10f);
  p = V::fma(x2, p, V::set1(2.77068142495902e-08f));
  p = V::fma(x2, p, V::set1(-2.10102402082508e-06f));
  p = V::fma(x2, p, V::set1(-5.69250639462346e-05f));
  p = V::fma(x2, p, V::set1(-7.34990630326855e-04f));
  p = V::fma(x2, p, V::set1(-2.95459980854025e-03f));
  p = V::fma(x2, p, V::set1(-1.60960333262415e-02f));
  p = V::mul(x, p);
  Reg q = V::set1(-1.45660718464996e-05f);
  q = V::fma(x2, q, V::set1(-2.13374055278905e-04f));
  q = V::fma(x2, q, V::set1(-1.68282697438203e-03f));
  q = V::fma(x2, q, V::set1(-7.37332916720468e-03f));
  q = V::fma(x2, q, V::set1(-1.42647390514189e-02f));
  return V::div(p, q);
}

template <class V>
typename V::Reg vec_sigmoid(typename V::Reg x) {
  const typename V::Reg one = V::set1(1.0f);
  return V::div(one, V::add(one, V::exp(V::sub(V::zero(), x))));
}

template <class V>
typename V::Reg vec_sin2(typename V::Reg x) {
  using Reg = typename V::Reg;
  const Reg n = V::round(V::mul(x, V::set1(0.318309886183790671f)));
  Reg r = V::fma(n, V::set1(-3.140625f), x);
  r = V::fma(n, V::set1(-9.67502593994140625e-4f), r);
  r = V::fma(n, V::set1(-1.509957990978376432e-7f), r);
  const Reg r2 = V::mul(r, r);
  Reg p = V::set1(-7.64716373181981647e-13f);  // -1/15!
  p = V::fma(p, r2, V::set1(1.60590438368216146e-10f));
  p = V::fma(p, r2, V::set1(-2.50521083854417188e-08f));
  p = V::fma(p, r2, V::set1(2.75573192239858907e-06f));
  p = V::fma(p, r2, V::set1(-1.98412698412698413e-04f));
  p = V::fma(p, r2, V::set1(8.33333333333333333e-03f));
  p = V::fma(p, r2, V::set1(-1.66666666666666667e-01f));
  const Reg s = V::fma(V::mul(p, r2), r, r);
  return V::mul(s, s);
}

}  // namespace chatterd::cpu
