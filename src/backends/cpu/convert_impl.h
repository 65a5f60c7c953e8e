#pragma once
// Included only by convert_{scalar,avx2,avx512}.cc; see isa_table.h for the rules.

#include "backends/cpu/convert_kernels.h"

namespace chatterd::cpu {
namespace {  // NOLINT(google-build-namespaces, cert-dcl59-cpp): one private copy per ISA TU

template <class V>
void f16_to_f32(const Half* in, float* out, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) V::store(out + i, V::load_f16(in + i));
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    V::store_partial(out + i, V::load_f16_partial(in + i, rest), rest);
  }
}

template <class V>
void bf16_to_f32(const BFloat16* in, float* out, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) V::store(out + i, V::load_bf16(in + i));
  if (i < n) {
    const int rest = static_cast<int>(n - i);
    V::store_partial(out + i, V::load_bf16_partial(in + i, rest), rest);
  }
}

template <class V>
void f32_to_f16(const float* in, Half* out, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) V::store_f16(out + i, V::load(in + i));
  for (; i < n; ++i) out[i] = float_to_half(in[i]);
}

template <class V>
void f32_to_bf16(const float* in, BFloat16* out, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + V::kWidth <= n; i += V::kWidth) V::store_bf16(out + i, V::load(in + i));
  for (; i < n; ++i) out[i] = float_to_bf16(in[i]);
}

template <class V>
constexpr ConvertKernels make_convert_kernels() {
  return {&f16_to_f32<V>, &bf16_to_f32<V>, &f32_to_f16<V>, &f32_to_bf16<V>};
}

}  // namespace
}  // namespace chatterd::cpu
