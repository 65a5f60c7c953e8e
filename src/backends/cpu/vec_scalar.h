#pragma once
// Vec interface, scalar reference: one float per register. Every SIMD kernel is written once as a
// template over a Vec type (VecScalar, VecAvx2, VecAvx512) with exactly this static interface.

#include <cmath>

#include "chatterd/core/half.h"

namespace chatterd::cpu {

struct VecScalar {
  using Reg = float;
  static constexpr int kWidth = 1;

  static Reg load(const float* p) { return *p; }
  static Reg load_partial(const float* p, int n) { return n > 0 ? *p : 0.0f; }
  static void store(float* p, Reg v) { *p = v; }
  static void store_partial(float* p, Reg v, int n) {
    if (n > 0) *p = v;
  }
  static Reg load_f16(const Half* p) { return half_to_float(*p); }
  static Reg load_f16_partial(const Half* p, int n) { return n > 0 ? half_to_float(*p) : 0.0f; }
  static Reg load_bf16(const BFloat16* p) { return bf16_to_float(*p); }
  static Reg load_bf16_partial(const BFloat16* p, int n) {
    return n > 0 ? bf16_to_float(*p) : 0.0f;
  }
  static void store_f16(Half* p, Reg v) { *p = float_to_half(v); }
  static void store_bf16(BFloat16* p, Reg v) { *p = float_to_bf16(v); }
  // kWidth int8 values widened to float (q8_0 weights).
  static Reg load_i8(const std::int8_t* p) { return static_cast<float>(*p); }

  static Reg set1(float x) { return x; }
  static Reg zero() { return 0.0f; }
  static Reg add(Reg a, Reg b) { return a + b; }
  static Reg sub(Reg a, Reg b) { return a - b; }
  static Reg mul(Reg a, Reg b) { return a * b; }
  static Reg div(Reg a, Reg b) { return a / b; }
  static Reg fma(Reg a, Reg b, Reg c) { return std::fma(a, b, c); }  // a*b + c
  static Reg max(Reg a, Reg b) { return a > b ? a : b; }
  static Reg min(Reg a, Reg b) { return a < b ? a : b; }
  static Reg abs(Reg a) { return std::fabs(a); }
  static Reg round(Reg a) { return std::nearbyint(a); }
  static Reg select_lt(Reg a, Reg b, Reg x, Reg y) { return a < b ? x : y; }
  static Reg select_gt(Reg a, Reg b, Reg x, Reg y) { return a > b ? x : y; }
  static Reg exp(Reg x) { return std::exp(x); }
  static float reduce_sum(Reg v) { return v; }
  static float reduce_max(Reg v) { return v; }
};

}  // namespace chatterd::cpu
