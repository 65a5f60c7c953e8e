// Elementwise kernels: activations, broadcast binary ops, the bias epilogue, dtype conversion.
// Grid-stride loops; these ops are memory bound, so one element per thread-iteration suffices.

#include <algorithm>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device_math.cuh"
#include "backends/cuda/kernels.h"

namespace chatterd::cuda {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(std::int64_t n) {
  // Enough blocks to fill an H100 several times over; the loops stride beyond that.
  return static_cast<unsigned>(std::clamp<std::int64_t>((n + kThreads - 1) / kThreads, 1, 65535));
}

__device__ __forceinline__ float apply(UnaryKind kind, float x) {
  switch (kind) {
    case UnaryKind::Relu:
      return x > 0.0f ? x : 0.0f;
    case UnaryKind::Gelu:
      return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case UnaryKind::GeluTanh: {
      const float inner = 0.7978845608028654f * (x + 0.044715f * x * x * x);
      return 0.5f * x * (1.0f + tanhf(inner));
    }
    case UnaryKind::Silu:
      return x / (1.0f + expf(-x));
    case UnaryKind::Mish: {
      const float sp = x > 20.0f ? x : log1pf(expf(x));  // softplus, threshold 20 as PyTorch
      return x * tanhf(sp);
    }
    case UnaryKind::Tanh:
      return tanhf(x);
    case UnaryKind::Sigmoid:
      return 1.0f / (1.0f + expf(-x));
    case UnaryKind::Exp:
      return expf(x);
  }
  return x;
}

__global__ void unary_kernel(UnaryKind kind, const float* x, float* out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    out[i] = apply(kind, x[i]);
  }
}

__device__ __forceinline__ float apply(BinaryKind kind, float a, float b) {
  switch (kind) {
    case BinaryKind::Add:
      return a + b;
    case BinaryKind::Sub:
      return a - b;
    case BinaryKind::Mul:
      return a * b;
    case BinaryKind::Div:
      return a / b;
  }
  return a;
}

__global__ void binary_kernel(BinaryKind kind, const float* a, const float* b, float* out,
                              BinaryPlan plan, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    std::int64_t rest = i;
    std::int64_t ia = 0;
    std::int64_t ib = 0;
    for (int d = plan.rank - 1; d >= 0; --d) {
      const std::int64_t idx = rest % plan.size[d];
      rest /= plan.size[d];
      ia += idx * plan.stride_a[d];
      ib += idx * plan.stride_b[d];
    }
    out[i] = apply(kind, a[ia], b[ib]);
  }
}

__global__ void row_bias_kernel(float* out, const float* bias, std::int64_t total, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < total;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    out[i] += bias[i % n];
  }
}

template <class From, class To>
__global__ void convert_kernel(const From* in, To* out, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    out[i] = detail::from_float<To>(detail::to_float(in[i]));
  }
}

template <class From>
void convert_from(StreamHandle stream, const From* in, void* out, DType to, std::int64_t n) {
  switch (to) {
    case DType::F32:
      convert_kernel<<<grid_for(n), kThreads, 0, stream>>>(in, static_cast<float*>(out), n);
      return;
    case DType::F16:
      convert_kernel<<<grid_for(n), kThreads, 0, stream>>>(in, static_cast<__half*>(out), n);
      return;
    case DType::BF16:
      convert_kernel<<<grid_for(n), kThreads, 0, stream>>>(in, static_cast<__nv_bfloat16*>(out), n);
      return;
    default:
      detail::throw_unsupported("cuda convert: to " + std::string(dtype_name(to)));
  }
}

// Rotate-half RoPE of one head row of x (row = token * heads + head) at position p, the block's
// threads striding over the half.
__device__ __forceinline__ void rotate_row(float* x, std::int64_t row, std::int64_t head_dim,
                                           std::int64_t p, const float* cos, const float* sin) {
  const std::int64_t half = head_dim / 2;
  float* x1 = x + row * head_dim;
  float* x2 = x1 + half;
  for (std::int64_t i = threadIdx.x; i < half; i += blockDim.x) {
    const float a = x1[i];
    const float b = x2[i];
    const float c = cos[p * half + i];
    const float s = sin[p * half + i];
    x1[i] = a * c - b * s;
    x2[i] = b * c + a * s;
  }
}

__global__ void rope_kernel(float* x, std::int64_t heads, std::int64_t head_dim, std::int64_t start,
                            const float* cos, const float* sin) {
  const std::int64_t row = blockIdx.x;  // token * heads + head
  rotate_row(x, row, head_dim, start + row / heads, cos, sin);
}

// rope_kernel with each token's position read from device memory (a batched decode step: row r
// of x is stream r at its slot length). A position outside the table leaves its row as it is
// (callers check positions on the host before the step).
__global__ void rope_positions_kernel(float* x, std::int64_t heads, std::int64_t head_dim,
                                      const std::int32_t* positions, std::int64_t n_positions,
                                      const float* cos, const float* sin) {
  const std::int64_t row = blockIdx.x;  // token * heads + head
  const std::int64_t p = positions[row / heads];
  if (p < 0 || p >= n_positions) return;
  rotate_row(x, row, head_dim, p, cos, sin);
}

// Threads per head row: the half head dim rounded up to warps, 32 .. 256.
unsigned rope_threads(std::int64_t head_dim) {
  return static_cast<unsigned>(std::clamp<std::int64_t>((head_dim / 2 + 31) / 32 * 32, 32, 256));
}

}  // namespace

void rope_positions_f32(StreamHandle stream, float* x, std::int64_t t, std::int64_t heads,
                        std::int64_t head_dim, const std::int32_t* positions,
                        std::int64_t n_positions, const float* cos, const float* sin) {
  const std::int64_t rows = t * heads;
  if (rows == 0 || head_dim < 2) return;
  if (rows > 2147483647) {
    detail::throw_unsupported("rope_positions_f32: " + std::to_string(rows) + " rows");
  }
  const unsigned threads = rope_threads(head_dim);
  rope_positions_kernel<<<static_cast<unsigned>(rows), threads, 0, stream>>>(
      x, heads, head_dim, positions, n_positions, cos, sin);
  detail::check_launch("rope_positions_f32");
}

void rope_f32(StreamHandle stream, float* x, std::int64_t t, std::int64_t heads,
              std::int64_t head_dim, std::int64_t start, const float* cos, const float* sin) {
  const std::int64_t rows = t * heads;
  if (rows == 0 || head_dim < 2) return;
  if (rows > 2147483647) detail::throw_unsupported("rope_f32: " + std::to_string(rows) + " rows");
  const unsigned threads = rope_threads(head_dim);
  rope_kernel<<<static_cast<unsigned>(rows), threads, 0, stream>>>(x, heads, head_dim, start, cos,
                                                                   sin);
  detail::check_launch("rope_f32");
}

void unary_f32(StreamHandle stream, UnaryKind kind, const float* x, float* out, std::int64_t n) {
  if (n == 0) return;
  unary_kernel<<<grid_for(n), kThreads, 0, stream>>>(kind, x, out, n);
  detail::check_launch("unary_f32");
}

void binary_f32(StreamHandle stream, BinaryKind kind, const float* a, const float* b, float* out,
                const BinaryPlan& plan) {
  if (plan.rank < 1 || plan.rank > kMaxBinaryRank) {
    detail::throw_internal("binary_f32: plan rank " + std::to_string(plan.rank));
  }
  std::int64_t n = 1;
  for (int d = 0; d < plan.rank; ++d) n *= plan.size[d];
  if (n == 0) return;
  binary_kernel<<<grid_for(n), kThreads, 0, stream>>>(kind, a, b, out, plan, n);
  detail::check_launch("binary_f32");
}

void add_row_bias(StreamHandle stream, float* out, const float* bias, std::int64_t rows,
                  std::int64_t n) {
  const std::int64_t total = rows * n;
  if (total == 0) return;
  row_bias_kernel<<<grid_for(total), kThreads, 0, stream>>>(out, bias, total, n);
  detail::check_launch("add_row_bias");
}

void convert(StreamHandle stream, const void* in, DType from, void* out, DType to, std::int64_t n) {
  if (n == 0) return;
  switch (from) {
    case DType::F32:
      convert_from(stream, static_cast<const float*>(in), out, to, n);
      break;
    case DType::F16:
      convert_from(stream, static_cast<const __half*>(in), out, to, n);
      break;
    case DType::BF16:
      convert_from(stream, static_cast<const __nv_bfloat16*>(in), out, to, n);
      break;
    default:
      detail::throw_unsupported("cuda convert: from " + std::string(dtype_name(from)));
  }
  detail::check_launch("convert");
}

}  // namespace chatterd::cuda
