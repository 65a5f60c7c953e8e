#pragma once
// Helpers shared by the CUDA tests: random host tensors and the normalised errors the tests hold
// the device to.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <tuple>

#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

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

// A test with a device context (skips without a GPU), host and device ExecContexts, transfers
// and a random stream seeded per fixture.
class DeviceOpsTest : public ::testing::Test {
 protected:
  explicit DeviceOpsTest(std::uint32_t seed) : rng_(seed) {}
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
    dc_ = std::make_unique<cuda::DeviceContext>(0);
    gpu_.cuda = dc_.get();
  }
  Tensor up(const Tensor& t) { return dc_->to_device(t); }
  Tensor down(const Tensor& t) { return dc_->to_host(t); }

  std::mt19937 rng_;
  std::unique_ptr<cuda::DeviceContext> dc_;
  ExecContext cpu_;
  ExecContext gpu_;
};

// Test names for (fixture folder, dtype) parameters: "turbo_tiny_bf16".
template <class ParamInfo>
std::string fixture_dtype_name(const ParamInfo& info) {
  std::string name =
      std::get<0>(info.param) + "_" + std::string(dtype_name(std::get<1>(info.param)));
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

}  // namespace chatterd::test
