// The S3Gen flow solver's Euler update on the device, so the ODE state stays there between
// estimator calls (ops would need strided views for the CFG pair).

#include <algorithm>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels.h"

namespace chatterd::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void euler_kernel(float* x, const float* v, const std::int32_t* lengths,
                             std::int64_t mel, std::int64_t frames, float dt, float cfg,
                             bool cfg_pair, std::int64_t n) {
  const std::int64_t item_elems = mel * frames;
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    const std::int64_t item = i / item_elems;
    const std::int64_t rest = i % item_elems;
    const std::int64_t f = rest % frames;
    if (f >= lengths[item]) continue;  // padding stays as it is
    float vel;
    if (cfg_pair) {
      const float vc = v[2 * item * item_elems + rest];
      const float vu = v[(2 * item + 1) * item_elems + rest];
      vel = __fsub_rn(__fmul_rn(1.0f + cfg, vc), __fmul_rn(cfg, vu));  // unfused, as the CPU
    } else {
      vel = v[i];
    }
    x[i] = __fadd_rn(x[i], __fmul_rn(dt, vel));
  }
}

}  // namespace

void flow_euler_step(StreamHandle stream, float* x, const float* v, const std::int32_t* lengths,
                     std::int64_t items, std::int64_t mel, std::int64_t frames, float dt, float cfg,
                     bool cfg_pair) {
  const std::int64_t n = items * mel * frames;
  if (n == 0) return;
  const auto grid =
      static_cast<unsigned>(std::clamp<std::int64_t>((n + kThreads - 1) / kThreads, 1, 65535));
  euler_kernel<<<grid, kThreads, 0, stream>>>(x, v, lengths, mel, frames, dt, cfg, cfg_pair, n);
  detail::check_launch("flow_euler_step");
}

}  // namespace chatterd::cuda
