#pragma once
// Helpers shared by the CUDA tests: random host tensors and the normalised errors the tests hold
// the device to.

#include <algorithm>
#include <cmath>
#include <random>

#include "chatterd/core/tensor.h"

namespace chatterd::test {

// Uniform in [-scale, scale], drawn from `rng` (tests draw several tensors from one stream).
inline Tensor random_uniform(const Shape& shape, std::mt19937& rng, float scale) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  Tensor t = Tensor::empty(shape, DType::F32);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

// ||got - want|| / ||want|| over f32 host tensors; matching infinities count as equal.
inline double relative_l2(const Tensor& got, const Tensor& want) {
  if (!(got.shape() == want.shape())) return INFINITY;  // fails every tolerance
  const float* g = got.data<float>();
  const float* w = want.data<float>();
  double num = 0;
  double den = 0;
  for (std::int64_t i = 0; i < want.numel(); ++i) {
    if (std::isinf(w[i]) && g[i] == w[i]) continue;
    num += (static_cast<double>(g[i]) - w[i]) * (static_cast<double>(g[i]) - w[i]);
    den += static_cast<double>(w[i]) * w[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

// max |got - want| / max |want| (the parity reports' measure).
inline double relative_max(const Tensor& got, const Tensor& want) {
  if (!(got.shape() == want.shape())) return INFINITY;
  double diff = 0;
  double ref = 0;
  for (std::int64_t i = 0; i < want.numel(); ++i) {
    diff = std::max(diff, std::fabs(double{got.data<float>()[i]} - want.data<float>()[i]));
    ref = std::max(ref, std::fabs(double{want.data<float>()[i]}));
  }
  return diff / std::max(ref, 1e-30);
}

}  // namespace chatterd::test
