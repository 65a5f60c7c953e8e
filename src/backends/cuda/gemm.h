#pragma once
// The prefill/batched path of linear on CUDA: cuBLASLt with f32 accumulation.
//   out[m, n] = x[m, k] . w[n, k] (+ bias[n])
// bf16/f16 weights: x is converted to the weight's type (a scratch block from the context's
// cache) and multiplied on tensor cores; f32 weights: full f32 (no TF32: the f32 path is the one
// checked against the goldens).

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>

#include "chatterd/core/dtype.h"

namespace chatterd::cuda {

class DeviceContext;

// cuBLASLt descriptors and the heuristic's algorithm per problem (shape, weight type, operand
// alignments), built at a shape's first call and reused: the heuristic costs tens of
// microseconds, as much as a small matmul. One per DeviceContext (not thread-safe). Bounded:
// when full (prefills of many different lengths) it starts over.
class GemmPlans {
 public:
  GemmPlans();
  ~GemmPlans();
  GemmPlans(const GemmPlans&) = delete;
  GemmPlans& operator=(const GemmPlans&) = delete;

  struct Plan;  // gemm.cc
  // m, n, k, weight dtype, alignments of w, x, out (bytes, powers of two up to 256).
  using Key = std::array<std::int64_t, 7>;
  static constexpr std::size_t kMaxPlans = 512;
  std::size_t size() const { return plans_.size(); }
  std::int64_t built() const { return built_; }  // plans made since construction

  // The plan for `key`, made with `make` when missing.
  template <class Make>
  const Plan& get(const Key& key, Make&& make) {
    if (const auto it = plans_.find(key); it != plans_.end()) return *it->second;
    if (plans_.size() >= kMaxPlans) plans_.clear();
    ++built_;
    return *plans_.emplace(key, make()).first->second;
  }

 private:
  std::map<Key, std::unique_ptr<Plan>> plans_;
  std::int64_t built_ = 0;
};

void gemm(DeviceContext& ctx, const float* x, std::int64_t m, std::int64_t k, const void* w,
          DType w_dtype, const float* bias, float* out, std::int64_t n);

}  // namespace chatterd::cuda
