#pragma once
// Helpers shared by the op tests: random tensors, every ISA this host runs, tolerant comparison.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/cpu_features.h"
#include "chatterd/core/error.h"
#include "chatterd/core/half.h"
#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::test {

inline Tensor random_f32(const Shape& shape, std::uint32_t seed, float lo = -1.0f,
                         float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t = Tensor::empty(shape, DType::F32);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

// Uniform in [-1, 1) from a caller's generator (tests that draw several tensors from one stream).
inline Tensor random_f32(const Shape& shape, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Tensor t = Tensor::empty(shape, DType::F32);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

inline std::vector<float> to_vector(const Tensor& t) {
  const float* p = t.data<float>();
  return {p, p + t.numel()};
}

inline ExecContext context_for(cpu::CpuIsa isa, ThreadPool* pool = nullptr) {
  ExecContext ctx;
  ctx.isa = isa;
  ctx.pool = pool;
  return ctx;
}

inline std::string isa_label(cpu::CpuIsa isa) {
  return std::string(cpu::isa_name(isa));
}

// |got - want| <= abs_tol + rel_tol * |want| element by element; stops at the first few failures.
inline void expect_close(const Tensor& got, const std::vector<double>& want, double rel_tol,
                         const std::vector<double>& abs_tol, const std::string& what);

inline void expect_close(const Tensor& got, const std::vector<double>& want, double rel_tol,
                         double abs_tol, const std::string& what) {
  expect_close(got, want, rel_tol, std::vector<double>(want.size(), abs_tol), what);
}

// Per-element absolute slack.
inline void expect_close(const Tensor& got, const std::vector<double>& want, double rel_tol,
                         const std::vector<double>& abs_tol, const std::string& what) {
  ASSERT_EQ(got.dtype(), DType::F32) << what;
  ASSERT_EQ(got.numel(), static_cast<std::int64_t>(want.size())) << what;
  const float* p = got.data<float>();
  int failures = 0;
  for (std::size_t i = 0; i < want.size() && failures < 5; ++i) {
    const double g = p[i];
    const double w = want[i];
    if (std::isnan(w)) {
      if (!std::isnan(g)) {
        ADD_FAILURE() << what << " [" << i << "]: got " << g << ", want nan";
        ++failures;
      }
      continue;
    }
    if (std::isinf(w)) {
      if (g != w) {
        ADD_FAILURE() << what << " [" << i << "]: got " << g << ", want " << w;
        ++failures;
      }
      continue;
    }
    if (!(std::fabs(g - w) <= abs_tol[i] + rel_tol * std::fabs(w))) {
      ADD_FAILURE() << what << " [" << i << "]: got " << g << ", want " << w << " (diff "
                    << std::fabs(g - w) << ")";
      ++failures;
    }
  }
}

inline void expect_equal(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  const float* g = got.data<float>();
  const float* w = want.data<float>();
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    ASSERT_EQ(g[i], w[i]) << what << " [" << i << "]";
  }
}

}  // namespace chatterd::test
