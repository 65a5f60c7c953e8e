// Layout kernels: a general permute (any element size up to 8 bytes) and a tiled swap of the last
// two axes for 4-byte elements (NCT <-> NTC around S3Gen's transformer blocks and LayerNorms),
// which reads and writes whole 128-byte lines through a shared-memory tile.

#include <algorithm>
#include <string>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels.h"

namespace chatterd::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kTile = 32;
constexpr int kTileRows = 8;  // a 32 x 8 block moves a 32 x 32 tile in four passes

unsigned grid_for(std::int64_t n) {
  return static_cast<unsigned>(std::clamp<std::int64_t>((n + kThreads - 1) / kThreads, 1, 65535));
}

template <class T>
__global__ void permute_kernel(const T* in, T* out, PermutePlan plan, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    std::int64_t rest = i;
    std::int64_t src = 0;
    for (int d = plan.rank - 1; d >= 0; --d) {
      src += rest % plan.size[d] * plan.src_stride[d];
      rest /= plan.size[d];
    }
    out[i] = in[src];
  }
}

// Block (32, 8) per 32 x 32 tile of one [rows, cols] matrix; blockIdx.z strides over matrices.
__global__ void swap_last_two_kernel(const float* in, float* out, std::int64_t batch,
                                     std::int64_t rows, std::int64_t cols) {
  __shared__ float tile[kTile][kTile + 1];  // +1: no bank conflicts on the transposed read
  const std::int64_t c0 = std::int64_t{blockIdx.x} * kTile;
  const std::int64_t r0 = std::int64_t{blockIdx.y} * kTile;
  for (std::int64_t b = blockIdx.z; b < batch; b += gridDim.z) {
    const float* src = in + b * rows * cols;
    float* dst = out + b * rows * cols;
    for (int j = threadIdx.y; j < kTile; j += kTileRows) {
      const std::int64_t r = r0 + j;
      const std::int64_t c = c0 + threadIdx.x;
      if (r < rows && c < cols) tile[j][threadIdx.x] = src[r * cols + c];
    }
    __syncthreads();
    for (int j = threadIdx.y; j < kTile; j += kTileRows) {
      const std::int64_t c = c0 + j;  // output row
      const std::int64_t r = r0 + threadIdx.x;
      if (c < cols && r < rows) dst[c * rows + r] = tile[threadIdx.x][j];
    }
    __syncthreads();  // the tile is refilled for the next matrix
  }
}

__global__ void upsample_kernel(const float* x, float* out, std::int64_t t, std::int64_t factor,
                                std::int64_t n) {
  const std::int64_t t_out = t * factor;
  for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n;
       i += std::int64_t{gridDim.x} * blockDim.x) {
    out[i] = x[i / t_out * t + i % t_out / factor];
  }
}

}  // namespace

void upsample_nearest1d_f32(StreamHandle stream, const float* x, float* out, std::int64_t rows,
                            std::int64_t t, std::int64_t factor) {
  const std::int64_t n = rows * t * factor;
  if (n == 0) return;
  upsample_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, out, t, factor, n);
  detail::check_launch("upsample_nearest1d_f32");
}

void permute(StreamHandle stream, const void* in, void* out, std::size_t elem_bytes,
             const PermutePlan& plan, std::int64_t n) {
  if (n == 0) return;
  switch (elem_bytes) {
    case 1:
      permute_kernel<<<grid_for(n), kThreads, 0, stream>>>(
          static_cast<const std::uint8_t*>(in), static_cast<std::uint8_t*>(out), plan, n);
      break;
    case 2:
      permute_kernel<<<grid_for(n), kThreads, 0, stream>>>(
          static_cast<const std::uint16_t*>(in), static_cast<std::uint16_t*>(out), plan, n);
      break;
    case 4:
      permute_kernel<<<grid_for(n), kThreads, 0, stream>>>(
          static_cast<const std::uint32_t*>(in), static_cast<std::uint32_t*>(out), plan, n);
      break;
    case 8:
      permute_kernel<<<grid_for(n), kThreads, 0, stream>>>(
          static_cast<const std::uint64_t*>(in), static_cast<std::uint64_t*>(out), plan, n);
      break;
    default:
      detail::throw_unsupported("cuda permute: " + std::to_string(elem_bytes) + "-byte elements");
  }
  detail::check_launch("permute");
}

void swap_last_two_f32(StreamHandle stream, const float* in, float* out, std::int64_t batch,
                       std::int64_t rows, std::int64_t cols) {
  if (batch == 0 || rows == 0 || cols == 0) return;
  const dim3 grid(static_cast<unsigned>((cols + kTile - 1) / kTile),
                  static_cast<unsigned>((rows + kTile - 1) / kTile),
                  static_cast<unsigned>(std::min<std::int64_t>(batch, 65535)));
  if ((rows + kTile - 1) / kTile > 65535) {
    detail::throw_unsupported("cuda swap_last_two_f32: " + std::to_string(rows) + " rows");
  }
  swap_last_two_kernel<<<grid, dim3(kTile, kTileRows), 0, stream>>>(in, out, batch, rows, cols);
  detail::check_launch("swap_last_two_f32");
}

}  // namespace chatterd::cuda
