#include "ops/linear.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <string_view>
#include <type_traits>
#include <vector>

#include "backends/cpu/blas.h"
#include "backends/cpu/convert_kernels.h"
#include "backends/cpu/linear_kernels.h"
#include "backends/cpu/qdot_kernels.h"
#include "chatterd/core/half.h"
#include "core/check.h"
#include "ops/cuda_dispatch.h"
#include "ops/matmul.h"
#include "ops/scratch.h"
#ifdef CHATTERD_HAVE_CUDA
#include "backends/cuda/gemm.h"
#endif

namespace chatterd::ops {
namespace {

// Decode: each chunk of output features does at least this many multiply-adds.
constexpr std::int64_t kMinChunkMacs = 16384;

void add_bias(const float* bias, std::int64_t m, std::int64_t n, std::int64_t c0, std::int64_t c1,
              float* y) {
  if (bias == nullptr) return;
  for (std::int64_t i = 0; i < m; ++i) {
    float* yr = y + i * n;
    for (std::int64_t c = c0; c < c1; ++c) yr[c] += bias[c];
  }
}

// Batched decode (m > 2): the kernels take several passes over the weight, one per group of 2-4
// input rows. Walking each thread's range in tiles of about this many weight bytes makes every
// pass after the first read the tile from L2, so the weight streams from memory once for any m.
constexpr std::int64_t kDecodeTileBytes = 256 * 1024;

// Bytes of one weight element (a q8_0 block of 32 counts as ~1 byte each).
template <class W>
constexpr std::int64_t element_bytes() {
  return std::is_same_v<W, BlockQ8> ? 1 : static_cast<std::int64_t>(sizeof(W));
}

// Calls run(t0, t1) over [r0, r1) in tiles of `per_tile` features (a multiple of `align`), or in
// one go when a single pass covers every row.
template <class Run>
void over_tiles(std::int64_t m, std::int64_t r0, std::int64_t r1, std::int64_t bytes_per_feature,
                std::int64_t align, const Run& run) {
  if (m <= 2) return run(r0, r1);
  std::int64_t per_tile = kDecodeTileBytes / std::max<std::int64_t>(1, bytes_per_feature);
  per_tile = std::max(align, per_tile / align * align);
  for (std::int64_t t = r0; t < r1; t += per_tile) run(t, std::min(r1, t + per_tile));
}

template <class W>
void decode_dot(const ExecContext& ctx, cpu::DotKernel<W> kernel, const float* x, std::int64_t m,
                std::int64_t k, const W* w, std::int64_t n, const float* bias, float* y) {
  const std::int64_t grain =
      std::max<std::int64_t>(1, kMinChunkMacs / std::max<std::int64_t>(1, k * m));
  ctx.parallel_for(n, grain, [&](std::int64_t r0, std::int64_t r1) {
    over_tiles(m, r0, r1, k * element_bytes<W>(), 1,
               [&](std::int64_t t0, std::int64_t t1) { kernel(x, m, k, w, t0, t1, y, n); });
    add_bias(bias, m, n, r0, r1, y);
  });
}

template <class W>
void decode_axpy(const ExecContext& ctx, cpu::AxpyKernel<W> kernel, const float* x, std::int64_t m,
                 std::int64_t k, const W* w, std::int64_t n, const float* bias, float* y) {
  // Column blocks of kQ8BlockSize (q8_0 needs block-aligned ranges; wide blocks suit all dtypes).
  const std::int64_t nb = (n + kQ8BlockSize - 1) / kQ8BlockSize;
  const std::int64_t grain =
      std::max<std::int64_t>(1, kMinChunkMacs / std::max<std::int64_t>(1, k * m * kQ8BlockSize));
  ctx.parallel_for(nb, grain, [&](std::int64_t b0, std::int64_t b1) {
    const std::int64_t c0 = b0 * kQ8BlockSize;
    const std::int64_t c1 = std::min(n, b1 * kQ8BlockSize);
    // Tiles stay block-aligned (q8_0's contract).
    over_tiles(m, c0, c1, k * element_bytes<W>(), kQ8BlockSize,
               [&](std::int64_t t0, std::int64_t t1) { kernel(x, m, k, w, n, t0, t1, y, n); });
    add_bias(bias, m, n, c0, c1, y);
  });
}

// q8_0 weight [n, k]: the activation rows are quantised to q8_0 once, then every block is an
// int8 dot product (VNNI / maddubs), so the step streams 1.125 bytes per weight at memory speed.
void decode_q8_q8(const ExecContext& ctx, const float* x, std::int64_t m, std::int64_t k,
                  const BlockQ8* w, std::int64_t n, const float* bias, float* y) {
  // Per-thread scratch (ops/scratch.h): a decode loop does not allocate after its first step.
  thread_local std::vector<BlockQ8> xq_keep;
  std::vector<BlockQ8> xq_once;
  const std::int64_t nb = k / kQ8BlockSize;
  BlockQ8* xq = scratch(xq_keep, xq_once, static_cast<std::size_t>(m * nb), false);
  for (std::int64_t i = 0; i < m; ++i) cpu::quantize_row_q8_0(x + i * k, xq + i * nb, nb);
  const cpu::DotQ8Q8Kernel kernel = cpu::dot_q8_q8_kernel(ctx.isa);
  const std::int64_t grain =
      std::max<std::int64_t>(1, kMinChunkMacs / std::max<std::int64_t>(1, k * m));
  const auto row_bytes = nb * static_cast<std::int64_t>(sizeof(BlockQ8));
  ctx.parallel_for(n, grain, [&](std::int64_t r0, std::int64_t r1) {
    over_tiles(m, r0, r1, row_bytes, 1,
               [&](std::int64_t t0, std::int64_t t1) { kernel(xq, m, k, w, t0, t1, y, n); });
    add_bias(bias, m, n, r0, r1, y);
  });
}

// Converts weight features [c0, c1) to an f32 tile: [nc, k] for OutIn, [k, nc] for InOut.
void weight_tile_to_f32(cpu::CpuIsa isa, const Tensor& w, WeightLayout layout, std::int64_t k,
                        std::int64_t n, std::int64_t c0, std::int64_t c1, float* tile) {
  const auto& conv = cpu::convert_kernels(isa);
  const auto& lin = cpu::linear_kernels(isa);
  const std::int64_t nc = c1 - c0;
  // Run [offset, offset+len) of the weight's flat elements to tile + dst.
  auto convert_run = [&](std::int64_t offset, std::int64_t len, float* dst) {
    switch (w.dtype()) {
      case DType::F16:
        conv.f16_to_f32(w.data<Half>() + offset, dst, len);
        break;
      case DType::BF16:
        conv.bf16_to_f32(w.data<BFloat16>() + offset, dst, len);
        break;
      case DType::Q8_0:
        lin.q8_0_to_f32(static_cast<const BlockQ8*>(w.raw_data()) + offset / kQ8BlockSize, dst,
                        len / kQ8BlockSize);
        break;
      default:
        CHATTERD_THROW(Internal, "linear: no f32 tile conversion for {}", w.to_string());
    }
  };
  if (layout == WeightLayout::OutIn) {
    convert_run(c0 * k, nc * k, tile);
  } else {
    for (std::int64_t j = 0; j < k; ++j) convert_run(j * n + c0, nc, tile + j * nc);
  }
}

}  // namespace

namespace {

// linear on CUDA tensors (operands and `out_shape` checked by the caller): the GEMV kernel for
// decode-sized row counts, cuBLASLt beyond. Weights must be on the device "out x in" (uploads
// transpose).
void linear_cuda(const ExecContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
                 Tensor& out, const Shape& out_shape, WeightLayout layout, LinearPath path) {
#ifdef CHATTERD_HAVE_CUDA
  auto& dc = detail::cuda_context(ctx, "linear", {&w, bias});
  CHATTERD_CHECK(layout == WeightLayout::OutIn, Unsupported,
                 "linear: CUDA weights must be \"out x in\" (got {} in x out)", w.to_string());
  CHATTERD_CHECK(w.dtype() != DType::Q8_0, Unsupported, "linear: q8_0 weights on CUDA ({})",
                 w.to_string());
  const std::int64_t k = x.dim(-1);
  const std::int64_t n = w.dim(0);
  const float* pbias = bias != nullptr ? bias->device_data<float>() : nullptr;
  dc.ensure(out, out_shape, DType::F32);
  const std::int64_t m = x.shape().outer(-1);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    dc.fill_zero(out);
    if (pbias != nullptr)
      cuda::add_row_bias(dc.stream().handle(), out.device_data<float>(), pbias, m, n);
    return;
  }
  const bool gemv_ok = cuda::gemv_supported(w.raw_data(), w.dtype(), k) &&
                       reinterpret_cast<std::uintptr_t>(x.raw_data()) % 16 == 0;
  const bool use_gemv =
      path == LinearPath::RowKernels || (path == LinearPath::Auto && m <= cuda::kGemvMaxRows);
  if (use_gemv && gemv_ok) {
    for (std::int64_t r = 0; r < m; r += cuda::kGemvMaxRows) {
      const std::int64_t rows = std::min(cuda::kGemvMaxRows, m - r);
      cuda::gemv(dc.stream().handle(), x.device_data<float>() + r * k, rows, k, w.raw_data(),
                 w.dtype(), pbias, out.device_data<float>() + r * n, n);
    }
    return;
  }
  cuda::gemm(dc, x.device_data<float>(), m, k, w.raw_data(), w.dtype(), pbias,
             out.device_data<float>(), n);
#else
  (void)ctx, (void)x, (void)w, (void)bias, (void)out, (void)out_shape, (void)layout, (void)path;
  detail::no_cuda_build("linear");
#endif
}

}  // namespace

void linear(const ExecContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
            Tensor& out, WeightLayout layout, LinearPath path) {
  check_dtype(x, DType::F32, "linear: x");
  CHATTERD_CHECK(x.rank() >= 1, ShapeError, "linear: x must have at least one dimension, got {}",
                 x.to_string());
  check_rank(w, 2, "linear: w");
  CHATTERD_CHECK(w.dtype() == DType::F32 || w.dtype() == DType::F16 || w.dtype() == DType::BF16 ||
                     w.dtype() == DType::Q8_0,
                 DTypeError, "linear: w must be f32, f16, bf16 or q8_0, got {}", w.to_string());
  CHATTERD_CHECK(&out != &x, InvalidArgument, "linear: out must not alias x");
  const bool out_in = layout == WeightLayout::OutIn;
  const std::int64_t k = x.dim(-1);
  const std::int64_t wk = out_in ? w.dim(1) : w.dim(0);
  const std::int64_t n = out_in ? w.dim(0) : w.dim(1);
  CHATTERD_CHECK(wk == k, ShapeError, "linear: x {} has {} input features but w {} ({}) expects {}",
                 x.to_string(), k, w.to_string(), out_in ? "out x in" : "in x out", wk);
  if (bias != nullptr) {
    check_dtype(*bias, DType::F32, "linear: bias");
    check_shape(*bias, Shape{n}, "linear: bias");
    CHATTERD_CHECK(bias != &out, InvalidArgument, "linear: out must not alias bias");
  }
  Shape out_shape = x.shape();
  out_shape.set(out_shape.rank() - 1, n);
  if (detail::on_cuda(x)) {
    linear_cuda(ctx, x, w, bias, out, out_shape, layout, path);
    return;
  }
  detail::require_host(&w, "linear");
  detail::require_host(bias, "linear");
  const float* pbias = bias != nullptr ? bias->data<float>() : nullptr;
  out.resize(out_shape, DType::F32);
  const std::int64_t m = x.shape().outer(-1);
  if (m == 0 || n == 0) return;
  const float* px = x.data<float>();
  float* py = out.data<float>();
  if (k == 0) {  // empty sums
    for (std::int64_t i = 0; i < m * n; ++i) py[i] = 0.0f;
    add_bias(pbias, m, n, 0, n, py);
    return;
  }

  if (path == LinearPath::Auto && w.dtype() != DType::F32 && m > kLinearGemvMaxRows &&
      m <= kLinearReducedRowKernelMaxRows) {
    const Tensor x2 = x.reshape({m, k});
    Tensor out2 = out.reshape({m, n});
    for (std::int64_t r = 0; r < m; r += kLinearGemvMaxRows) {
      const std::int64_t rows = std::min(kLinearGemvMaxRows, m - r);
      Tensor out_rows = out2.narrow0(r, rows);
      linear(ctx, x2.narrow0(r, rows), w, bias, out_rows, layout, LinearPath::RowKernels);
    }
    return;
  }
  const bool row_kernels =
      path == LinearPath::RowKernels || (path == LinearPath::Auto && m <= kLinearGemvMaxRows);
  if (w.dtype() == DType::F32) {
    if (!row_kernels) {
      parallel_sgemm(ctx, false, out_in, m, n, k, 1.0f, px, k, w.data<float>(), out_in ? k : n,
                     0.0f, py, n);
      add_bias(pbias, m, n, 0, n, py);  // TODO(perf): fold into the tiles
      return;
    }
  }
  const auto& lin = cpu::linear_kernels(ctx.isa);
  if (row_kernels) {
    const void* pw = w.raw_data();
    switch (w.dtype()) {
      case DType::F32:
        if (out_in) {
          decode_dot(ctx, lin.dot_f32, px, m, k, static_cast<const float*>(pw), n, pbias, py);
        } else {
          decode_axpy(ctx, lin.axpy_f32, px, m, k, static_cast<const float*>(pw), n, pbias, py);
        }
        return;
      case DType::F16:
        if (out_in) {
          decode_dot(ctx, lin.dot_f16, px, m, k, static_cast<const Half*>(pw), n, pbias, py);
        } else {
          decode_axpy(ctx, lin.axpy_f16, px, m, k, static_cast<const Half*>(pw), n, pbias, py);
        }
        return;
      case DType::BF16:
        if (out_in) {
          decode_dot(ctx, lin.dot_bf16, px, m, k, static_cast<const BFloat16*>(pw), n, pbias, py);
        } else {
          decode_axpy(ctx, lin.axpy_bf16, px, m, k, static_cast<const BFloat16*>(pw), n, pbias, py);
        }
        return;
      case DType::Q8_0:
        if (out_in) {
          decode_q8_q8(ctx, px, m, k, static_cast<const BlockQ8*>(pw), n, pbias, py);
        } else {
          decode_axpy(ctx, lin.axpy_q8_0, px, m, k, static_cast<const BlockQ8*>(pw), n, pbias, py);
        }
        return;
      default:
        break;
    }
    CHATTERD_THROW(Internal, "linear: unhandled weight {}", w.to_string());
  }

  detail::linear_f32_tiles(ctx, px, m, k, n, pbias, py, layout,
                           [&](std::int64_t c0, std::int64_t c1, float* tile) {
                             weight_tile_to_f32(ctx.isa, w, layout, k, n, c0, c1, tile);
                           });
}

namespace detail {

void linear_f32_tiles(const ExecContext& ctx, const float* x, std::int64_t m, std::int64_t k,
                      std::int64_t n, const float* bias, float* y, WeightLayout layout,
                      const std::function<void(std::int64_t, std::int64_t, float*)>& fill) {
  // Tiles converted into per-chunk scratch and multiplied on the calling worker.
  const bool out_in = layout == WeightLayout::OutIn;
  const std::int64_t tiles = (n + kLinearTileCols - 1) / kLinearTileCols;
  ctx.parallel_for(tiles, 1, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<float> tile(static_cast<std::size_t>(kLinearTileCols * k));
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t c0 = t * kLinearTileCols;
      const std::int64_t c1 = std::min(n, c0 + kLinearTileCols);
      const std::int64_t nc = c1 - c0;
      fill(c0, c1, tile.data());
      cpu::sgemm(false, out_in, m, nc, k, 1.0f, x, k, tile.data(), out_in ? k : nc, 0.0f, y + c0,
                 n);
      add_bias(bias, m, n, c0, c1, y);
    }
  });
}

}  // namespace detail

namespace {

constexpr int kBlock = 32;
static_assert(kBlock == kQ8BlockSize && kBlock == kQ4BlockSize);

// What quantize_q8_0 / quantize_q4_0 accept: f32, f16 or bf16 with whole blocks of 32 along the
// last dimension, not aliasing out.
void check_quantize_input(const Tensor& w, const Tensor& out, std::string_view op) {
  CHATTERD_CHECK(w.dtype() == DType::F32 || w.dtype() == DType::F16 || w.dtype() == DType::BF16,
                 DTypeError, "{}: input must be f32, f16 or bf16, got {}", op, w.to_string());
  CHATTERD_CHECK(w.rank() >= 1 && w.dim(-1) % kBlock == 0, ShapeError,
                 "{}: last dimension must be a multiple of {}, got {}", op, kBlock, w.to_string());
  CHATTERD_CHECK(&out != &w, InvalidArgument, "{}: out must not alias the input", op);
}

// Calls quantize(block index, 32 f32 values) for every block of 32 along w's last dimension, in
// parallel, once it checked that the block is finite.
template <class Quantize>
void for_each_f32_block(const ExecContext& ctx, const Tensor& w, std::string_view op,
                        Quantize&& quantize) {
  const std::int64_t nb = w.numel() / kBlock;
  const auto& conv = cpu::convert_kernels(ctx.isa);
  ctx.parallel_for(nb, 256, [&](std::int64_t b0, std::int64_t b1) {
    float buf[kBlock];
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t off = b * kBlock;
      const float* src = buf;
      if (w.dtype() == DType::F32) {
        src = w.data<float>() + off;
      } else if (w.dtype() == DType::F16) {
        conv.f16_to_f32(w.data<Half>() + off, buf, kBlock);
      } else {
        conv.bf16_to_f32(w.data<BFloat16>() + off, buf, kBlock);
      }
      // Every value, not a running max: std::max drops NaNs.
      bool finite = true;
      for (int j = 0; j < kBlock; ++j) finite = finite && std::isfinite(src[j]);
      CHATTERD_CHECK(finite, InvalidArgument,
                     "{}: block {} (elements {}..{}) holds a non-finite value", op, b, off,
                     off + kBlock - 1);
      quantize(b, src);
    }
  });
}

}  // namespace

void quantize_q8_0(const ExecContext& ctx, const Tensor& w, Tensor& out) {
  check_quantize_input(w, out, "quantize_q8_0");
  out.resize(w.shape(), DType::Q8_0);
  auto* blocks = static_cast<BlockQ8*>(out.raw_data());
  for_each_f32_block(ctx, w, "quantize_q8_0", [&](std::int64_t b, const float* src) {
    float amax = 0.0f;
    for (int j = 0; j < kQ8BlockSize; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float scale = amax / 127.0f;
    // 1 / scale overflows below amax ~ 4e-37: such blocks get zero codes (never inf x 0).
    const float inv =
        scale > 0.0f && 1.0f / scale <= std::numeric_limits<float>::max() ? 1.0f / scale : 0.0f;
    blocks[b].scale = scale;
    for (int j = 0; j < kQ8BlockSize; ++j) {
      blocks[b].q[j] = static_cast<std::int8_t>(std::round(src[j] * inv));
    }
  });
}

void quantize_q4_0(const ExecContext& ctx, const Tensor& w, Tensor& out) {
  check_quantize_input(w, out, "quantize_q4_0");
  out.resize(w.shape(), DType::Q4_0);
  auto* blocks = static_cast<BlockQ4*>(out.raw_data());
  for_each_f32_block(ctx, w, "quantize_q4_0", [&](std::int64_t b, const float* src) {
    // Codes from the scale that maps the value of largest magnitude to -8 (as ggml's q4_0), then
    // the least-squares scale for those codes, rounded to f16: never more squared error than
    // the peak scale. (A search over nine candidate scales cut the real-width test models'
    // logit error by another ~10% but tripled Turbo's load time: not taken.)
    float peak = 0.0f;
    for (int j = 0; j < kQ4BlockSize; ++j) {
      if (std::fabs(src[j]) > std::fabs(peak)) peak = src[j];
    }
    BlockQ4& blk = blocks[b];
    blk.scale = 0.0f;
    std::uint8_t best[kQ4BlockSize];
    std::fill(std::begin(best), std::end(best), std::uint8_t{8});
    // A block whose scale would round to 0 in f16 (|peak| below ~2.4e-7) stays all zero codes;
    // this also keeps -8 / peak finite.
    if (half_to_float(float_to_half(peak / -8.0f)) != 0.0f) {
      const float inv = -8.0f / peak;
      float xq = 0.0f, qq = 0.0f;
      for (int j = 0; j < kQ4BlockSize; ++j) {
        // round half away from zero of the clamped value (clamping first gives the same
        // integer, and keeps the conversion in range)
        const float v = std::min(std::max(src[j] * inv, -8.0f), 7.0f);
        const float q = static_cast<float>(static_cast<int>(v + (v >= 0.0f ? 0.5f : -0.5f)));
        best[j] = static_cast<std::uint8_t>(q + 8.0f);
        xq += src[j] * q;
        qq += q * q;
      }
      blk.scale = half_to_float(float_to_half(xq / qq));
      CHATTERD_CHECK(std::isfinite(blk.scale), InvalidArgument,
                     "quantize_q4_0: block {} needs a scale ({}) beyond the f16 range", b, xq / qq);
    }
    for (int j = 0; j < kQ4BlockSize / 2; ++j) {
      blk.q[j] = static_cast<std::uint8_t>(best[j] | (best[j + kQ4BlockSize / 2] << 4));
    }
  });
}

void dequantize_q8_0(const ExecContext& ctx, const Tensor& w, Tensor& out) {
  check_dtype(w, DType::Q8_0, "dequantize_q8_0: w");
  CHATTERD_CHECK(&out != &w, InvalidArgument, "dequantize_q8_0: out must not alias the input");
  out.resize(w.shape(), DType::F32);
  const std::int64_t nb = w.numel() / kQ8BlockSize;
  const auto* blocks = static_cast<const BlockQ8*>(w.raw_data());
  float* dst = out.data<float>();
  const auto& lin = cpu::linear_kernels(ctx.isa);
  ctx.parallel_for(nb, 1024, [&](std::int64_t b0, std::int64_t b1) {
    lin.q8_0_to_f32(blocks + b0, dst + b0 * kQ8BlockSize, b1 - b0);
  });
}

void dequantize_q4_0(const ExecContext& ctx, const Tensor& w, Tensor& out) {
  check_dtype(w, DType::Q4_0, "dequantize_q4_0: w");
  CHATTERD_CHECK(&out != &w, InvalidArgument, "dequantize_q4_0: out must not alias the input");
  out.resize(w.shape(), DType::F32);
  const std::int64_t nb = w.numel() / kQ4BlockSize;
  const auto* blocks = static_cast<const BlockQ4*>(w.raw_data());
  float* dst = out.data<float>();
  constexpr int kHalfBlock = kQ4BlockSize / 2;
  ctx.parallel_for(nb, 1024, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      float* o = dst + b * kQ4BlockSize;
      for (int j = 0; j < kHalfBlock; ++j) {
        o[j] = blocks[b].scale * static_cast<float>((blocks[b].q[j] & 15) - 8);
        o[j + kHalfBlock] = blocks[b].scale * static_cast<float>((blocks[b].q[j] >> 4) - 8);
      }
    }
  });
}

}  // namespace chatterd::ops
