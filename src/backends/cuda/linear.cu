// The decode GEMV: out[m, n] = x[m, k] . w[n, k] + bias, for a handful of activation rows (one
// T3 step of up to kGemvMaxRows streams). Memory bound: each weight byte is read exactly once,
// 16 bytes per lane per load, with all activation rows applied to it from L1/L2. One warp per
// output feature.

#include <utility>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device_math.cuh"
#include "backends/cuda/kernels.h"

namespace chatterd::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kValuesPerLoad = 8;

// Eight weights starting at p (16-byte aligned for 2-byte types, 32 for f32) as floats.
__device__ __forceinline__ void load8(const __nv_bfloat16* p, float* v) {
  const uint4 u = __ldg(reinterpret_cast<const uint4*>(p));
  const unsigned words[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    v[2 * i] = __uint_as_float(words[i] << 16);
    v[2 * i + 1] = __uint_as_float(words[i] & 0xffff0000u);
  }
}

__device__ __forceinline__ void load8(const __half* p, float* v) {
  const uint4 u = __ldg(reinterpret_cast<const uint4*>(p));
  const __half2* h = reinterpret_cast<const __half2*>(&u);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __half22float2(h[i]);
    v[2 * i] = f.x;
    v[2 * i + 1] = f.y;
  }
}

__device__ __forceinline__ void load8(const float* p, float* v) {
  const float4 a = __ldg(reinterpret_cast<const float4*>(p));
  const float4 b = __ldg(reinterpret_cast<const float4*>(p + 4));
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
  v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}

template <class W, int M>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    gemv_kernel(const float* __restrict__ x, std::int64_t k, const W* __restrict__ w,
                const float* __restrict__ bias, float* __restrict__ out, std::int64_t n) {
  const std::int64_t feature =
      std::int64_t{blockIdx.x} * kWarpsPerBlock + static_cast<std::int64_t>(threadIdx.x >> 5);
  if (feature >= n) return;
  const int lane = static_cast<int>(threadIdx.x & 31);
  const W* row = w + feature * k;
  float acc[M];
#pragma unroll
  for (int r = 0; r < M; ++r) acc[r] = 0.0f;
#pragma unroll 2
  for (std::int64_t c = std::int64_t{lane} * kValuesPerLoad; c < k; c += 32 * kValuesPerLoad) {
    float wv[kValuesPerLoad];
    load8(row + c, wv);
#pragma unroll
    for (int r = 0; r < M; ++r) {
      const float4 xa = *reinterpret_cast<const float4*>(x + r * k + c);
      const float4 xb = *reinterpret_cast<const float4*>(x + r * k + c + 4);
      acc[r] += wv[0] * xa.x + wv[1] * xa.y + wv[2] * xa.z + wv[3] * xa.w + wv[4] * xb.x +
                wv[5] * xb.y + wv[6] * xb.z + wv[7] * xb.w;
    }
  }
#pragma unroll
  for (int r = 0; r < M; ++r) {
    const float s = detail::warp_sum(acc[r]);
    if (lane == 0) out[r * n + feature] = s + (bias != nullptr ? bias[feature] : 0.0f);
  }
}

template <class W, int M>
void launch_rows(StreamHandle stream, const float* x, std::int64_t k, const W* w, const float* bias,
                 float* out, std::int64_t n) {
  const auto blocks = static_cast<unsigned>((n + kWarpsPerBlock - 1) / kWarpsPerBlock);
  gemv_kernel<W, M><<<blocks, kWarpsPerBlock * 32, 0, stream>>>(x, k, w, bias, out, n);
}

// One instantiation per row count 1..kGemvMaxRows, picked by m at run time.
template <class W, std::size_t... Rows>
void launch_for(std::index_sequence<Rows...>, StreamHandle stream, const float* x, std::int64_t m,
                std::int64_t k, const W* w, const float* bias, float* out, std::int64_t n) {
  using Launch = void (*)(StreamHandle, const float*, std::int64_t, const W*, const float*, float*,
                          std::int64_t);
  constexpr Launch table[] = {&launch_rows<W, static_cast<int>(Rows) + 1>...};
  if (m < 1 || m > static_cast<std::int64_t>(sizeof...(Rows))) {
    detail::throw_internal("cuda gemv: " + std::to_string(m) + " rows");
  }
  table[m - 1](stream, x, k, w, bias, out, n);
}

template <class W>
void launch(StreamHandle stream, const float* x, std::int64_t m, std::int64_t k, const W* w,
            const float* bias, float* out, std::int64_t n) {
  launch_for(std::make_index_sequence<kGemvMaxRows>{}, stream, x, m, k, w, bias, out, n);
}

bool aligned(const void* p, std::size_t bytes) {
  return reinterpret_cast<std::uintptr_t>(p) % bytes == 0;
}

}  // namespace

bool gemv_supported(const void* w, DType w_dtype, std::int64_t k) {
  const bool type_ok = w_dtype == DType::F32 || w_dtype == DType::F16 || w_dtype == DType::BF16;
  return type_ok && k % kValuesPerLoad == 0 && aligned(w, 16);
}

void gemv(StreamHandle stream, const float* x, std::int64_t m, std::int64_t k, const void* w,
          DType w_dtype, const float* bias, float* out, std::int64_t n) {
  if (m == 0 || n == 0) return;
  if (!gemv_supported(w, w_dtype, k) || !aligned(x, 16) || n / kWarpsPerBlock >= 2147483647) {
    detail::throw_internal("cuda gemv: unsupported operands (" + std::string(dtype_name(w_dtype)) +
                           " weights, k = " + std::to_string(k) + ", n = " + std::to_string(n) +
                           ")");
  }
  switch (w_dtype) {
    case DType::F32:
      launch(stream, x, m, k, static_cast<const float*>(w), bias, out, n);
      break;
    case DType::F16:
      launch(stream, x, m, k, static_cast<const __half*>(w), bias, out, n);
      break;
    default:
      launch(stream, x, m, k, static_cast<const __nv_bfloat16*>(w), bias, out, n);
      break;
  }
  detail::check_launch("gemv");
}

}  // namespace chatterd::cuda
