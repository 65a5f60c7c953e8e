#pragma once
// IEEE binary16 and bfloat16 storage types with scalar conversions. SIMD kernels convert in bulk
// (F16C / AVX-512); these are the reference conversions every kernel is tested against.

#include <bit>
#include <cstdint>
#include <cstring>

#include "chatterd/core/dtype.h"

namespace chatterd {

struct Half {
  std::uint16_t bits = 0;
};
struct BFloat16 {
  std::uint16_t bits = 0;
};
template <>
struct DTypeOf<Half> {
  static constexpr DType value = DType::F16;
};
template <>
struct DTypeOf<BFloat16> {
  static constexpr DType value = DType::BF16;
};

inline float half_to_float(Half h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h.bits & 0x8000u) << 16;
  std::uint32_t exp = (h.bits >> 10) & 0x1fu;
  std::uint32_t mant = h.bits & 0x3ffu;
  std::uint32_t out = 0;
  if (exp == 0) {
    if (mant == 0) {
      out = sign;
    } else {  // subnormal: renormalise
      exp = 127 - 15 + 1;
      while ((mant & 0x400u) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ffu;
      out = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    out = sign | 0x7f800000u | (mant << 13);
  } else {
    out = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  return std::bit_cast<float>(out);
}

// Round to nearest even, with overflow to inf and NaN preserved.
inline Half float_to_half(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t abs = x & 0x7fffffffu;
  Half h;
  if (abs >= 0x7f800000u) {  // inf or nan
    h.bits = static_cast<std::uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
    return h;
  }
  if (abs >= 0x477ff000u) {  // rounds to >= 65520: overflow
    h.bits = static_cast<std::uint16_t>(sign | 0x7c00u);
    return h;
  }
  if (abs < 0x38800000u) {                                  // result is subnormal or zero
    const float magic = std::bit_cast<float>(0x3f000000u);  // 0.5: shifts mantissa into place
    const float r = std::bit_cast<float>(abs) + magic;
    h.bits = static_cast<std::uint16_t>(sign | (std::bit_cast<std::uint32_t>(r) - 0x3f000000u));
    return h;
  }
  const std::uint32_t mant_odd = (abs >> 13) & 1u;
  std::uint32_t v = abs + 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round
  h.bits = static_cast<std::uint16_t>(sign | (v >> 13));
  return h;
}

inline float bf16_to_float(BFloat16 b) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b.bits) << 16);
}

inline BFloat16 float_to_bf16(float f) {
  std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  BFloat16 b;
  if ((x & 0x7fffffffu) > 0x7f800000u) {  // nan: keep it a quiet nan
    b.bits = static_cast<std::uint16_t>((x >> 16) | 0x40u);
    return b;
  }
  x += 0x7fffu + ((x >> 16) & 1u);
  b.bits = static_cast<std::uint16_t>(x >> 16);
  return b;
}

}  // namespace chatterd
