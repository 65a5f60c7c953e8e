#include "ops/conv1d.h"

#include <algorithm>
#include <vector>

#include "backends/cpu/blas.h"
#include "core/check.h"
#include "ops/cuda_dispatch.h"
#ifdef CHATTERD_HAVE_CUDA
#include "backends/cuda/gemm.h"
#endif

namespace chatterd::ops {
namespace {

constexpr std::int64_t kTimeTile = 256;     // output columns per im2col tile
constexpr std::int64_t kChannelTile = 128;  // output channels per work item

void check_options(const Conv1dOptions& o) {
  CHATTERD_CHECK(o.stride >= 1 && o.dilation >= 1 && o.groups >= 1, InvalidArgument,
                 "conv1d: stride ({}), dilation ({}) and groups ({}) must be >= 1", o.stride,
                 o.dilation, o.groups);
  CHATTERD_CHECK(o.pad_left >= 0 && o.pad_right >= 0, InvalidArgument,
                 "conv1d: padding must be >= 0 (left {}, right {})", o.pad_left, o.pad_right);
}

// First and one-past-last output index t with 0 <= t * stride + offset < length.
void valid_range(std::int64_t offset, std::int64_t stride, std::int64_t length, std::int64_t n_out,
                 std::int64_t& begin, std::int64_t& end) {
  begin = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  end = length - offset <= 0 ? 0 : (length - offset + stride - 1) / stride;
  begin = std::min(begin, n_out);
  end = std::clamp(end, begin, n_out);
}

}  // namespace

std::int64_t conv1d_output_length(std::int64_t length, std::int64_t kernel_size,
                                  const Conv1dOptions& options) {
  check_options(options);
  const std::int64_t padded = length + options.pad_left + options.pad_right;
  const std::int64_t span = options.dilation * (kernel_size - 1) + 1;
  CHATTERD_CHECK(kernel_size >= 1 && padded >= span, ShapeError,
                 "conv1d: kernel {} (dilation {}, span {}) is longer than the padded input {} "
                 "(length {} + pad {} + {})",
                 kernel_size, options.dilation, span, padded, length, options.pad_left,
                 options.pad_right);
  return (padded - span) / options.stride + 1;
}

namespace {

// x [B, C_in, T] f32 on CUDA; w [C_out, C_in, K] f32, or bf16/f16 with groups 1 (tensor cores:
// x is rounded to the weight's type inside the GEMM, sums stay f32).
void conv1d_cuda(const ExecContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
                 const Conv1dOptions& options, Tensor& out) {
#ifdef CHATTERD_HAVE_CUDA
  auto& dc = detail::cuda_context(ctx, "conv1d", {&w, bias});
  check_dtype(x, DType::F32, "conv1d: x");
  check_rank(x, 3, "conv1d: x");
  check_rank(w, 3, "conv1d: w");
  check_options(options);
  cuda::Conv1dShape s;
  s.batch = x.dim(0);
  s.c_in = x.dim(1);
  s.length = x.dim(2);
  s.kernel = w.dim(2);
  s.stride = options.stride;
  s.dilation = options.dilation;
  s.groups = options.groups;
  s.pad_left = options.pad_left;
  const std::int64_t c_out = w.dim(0);
  CHATTERD_CHECK(s.c_in % s.groups == 0 && c_out % s.groups == 0, ShapeError,
                 "conv1d: channels in {} and out {} must be divisible by groups {}", s.c_in, c_out,
                 s.groups);
  CHATTERD_CHECK(w.dim(1) == s.c_in / s.groups, ShapeError,
                 "conv1d: w {} needs dim 1 == C_in / groups = {} (x {}, groups {})", w.to_string(),
                 s.c_in / s.groups, x.to_string(), s.groups);
  const bool dense = s.groups == 1;
  CHATTERD_CHECK(
      w.dtype() == DType::F32 || (dense && (w.dtype() == DType::BF16 || w.dtype() == DType::F16)),
      DTypeError, "conv1d: CUDA weights must be f32 (bf16/f16 with groups 1), got {}",
      w.to_string());
  if (bias != nullptr) {
    check_dtype(*bias, DType::F32, "conv1d: bias");
    check_shape(*bias, Shape{c_out}, "conv1d: bias");
  }
  const std::int64_t t_out = conv1d_output_length(s.length, s.kernel, options);
  CHATTERD_CHECK(out.raw_data() != x.raw_data() || x.numel() == 0, InvalidArgument,
                 "conv1d: out must not alias x");
  dc.ensure(out, Shape{s.batch, c_out, t_out}, DType::F32);
  if (out.numel() == 0) return;
  const auto stream = dc.stream().handle();
  const float* pbias = bias != nullptr ? bias->device_data<float>() : nullptr;
  if (!dense) {
    return cuda::conv1d_direct_f32(stream, x.device_data<float>(), w.device_data<float>(), pbias, s,
                                   c_out, t_out, out.device_data<float>());
  }
  // out^T [B * T_out, C_out] = cols [B * T_out, C_in * K] . w^T, then back to NCT.
  const std::int64_t rows = s.batch * t_out;
  const std::int64_t taps = s.c_in * s.kernel;
  const auto cols = dc.scratch(static_cast<std::size_t>(rows * taps) * sizeof(float));
  const auto ntc = dc.scratch(static_cast<std::size_t>(rows * c_out) * sizeof(float));
  auto* pcols = static_cast<float*>(cols.get());
  auto* pntc = static_cast<float*>(ntc.get());
  if (taps == 0) {
    // Empty sums: the bias alone (the GEMM needs k >= 1).
    Tensor zeros = Tensor::borrow(pntc, Shape{rows, c_out}, DType::F32, ntc, Device::CUDA);
    dc.fill_zero(zeros);
    if (pbias != nullptr) cuda::add_row_bias(stream, pntc, pbias, rows, c_out);
  } else {
    cuda::im2col_1d(stream, x.device_data<float>(), s, t_out, pcols);
    cuda::gemm(dc, pcols, rows, taps, w.raw_data(), w.dtype(), pbias, pntc, c_out);
  }
  cuda::swap_last_two_f32(stream, pntc, out.device_data<float>(), s.batch, t_out, c_out);
#else
  (void)ctx, (void)x, (void)w, (void)bias, (void)options, (void)out;
  detail::no_cuda_build("conv1d");
#endif
}

}  // namespace

void conv1d(const ExecContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
            const Conv1dOptions& options, Tensor& out) {
  if (detail::on_cuda(x)) return conv1d_cuda(ctx, x, w, bias, options, out);
  detail::require_host(&w, "conv1d");
  detail::require_host(bias, "conv1d");
  check_dtype(x, DType::F32, "conv1d: x");
  check_dtype(w, DType::F32, "conv1d: w");
  check_rank(x, 3, "conv1d: x");
  check_rank(w, 3, "conv1d: w");
  check_options(options);
  const std::int64_t B = x.dim(0), C_in = x.dim(1), T = x.dim(2);
  const std::int64_t C_out = w.dim(0), K = w.dim(2);
  const std::int64_t G = options.groups;
  CHATTERD_CHECK(C_in % G == 0 && C_out % G == 0, ShapeError,
                 "conv1d: channels in {} and out {} must be divisible by groups {}", C_in, C_out,
                 G);
  const std::int64_t Cig = C_in / G, Cog = C_out / G;
  CHATTERD_CHECK(w.dim(1) == Cig, ShapeError,
                 "conv1d: w {} needs dim 1 == C_in / groups = {} (x {}, groups {})", w.to_string(),
                 Cig, x.to_string(), G);
  if (bias != nullptr) {
    check_dtype(*bias, DType::F32, "conv1d: bias");
    check_shape(*bias, Shape{C_out}, "conv1d: bias");
  }
  const std::int64_t To = conv1d_output_length(T, K, options);
  out.resize({B, C_out, To}, DType::F32);
  if (out.numel() == 0) return;

  const std::int64_t s = options.stride, d = options.dilation, pl = options.pad_left;
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  const float* bd = bias != nullptr ? bias->data<float>() : nullptr;
  float* od = out.data<float>();

  if (Cig == 1 && Cog == 1) {  // depthwise: direct loops, one channel per work item
    ctx.parallel_for(B * C_out, 1, [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {
        const std::int64_t c = r % C_out;
        const float* xr = xd + r * T;
        const float* wr = wd + c * K;
        float* orow = od + r * To;
        std::fill(orow, orow + To, bd != nullptr ? bd[c] : 0.0f);
        for (std::int64_t k = 0; k < K; ++k) {
          const std::int64_t offset = k * d - pl;
          std::int64_t t0 = 0, t1 = 0;
          valid_range(offset, s, T, To, t0, t1);
          const float wk = wr[k];
          for (std::int64_t t = t0; t < t1; ++t) orow[t] += wk * xr[t * s + offset];
        }
      }
    });
    return;
  }

  const bool direct = K == 1 && s == 1 && pl == 0 && options.pad_right == 0;  // To == T
  const std::int64_t Kc = Cig * K;
  const std::int64_t n_tiles = (To + kTimeTile - 1) / kTimeTile;
  const std::int64_t n_cblocks = (Cog + kChannelTile - 1) / kChannelTile;
  ctx.parallel_for(B * G * n_tiles * n_cblocks, 1, [&](std::int64_t i0, std::int64_t i1) {
    std::vector<float> col;
    if (!direct) col.resize(static_cast<std::size_t>(Kc * kTimeTile));
    for (std::int64_t item = i0; item < i1; ++item) {
      const std::int64_t cb = item % n_cblocks;
      const std::int64_t tile = (item / n_cblocks) % n_tiles;
      const std::int64_t g = (item / (n_cblocks * n_tiles)) % G;
      const std::int64_t b = item / (n_cblocks * n_tiles * G);
      const std::int64_t t0 = tile * kTimeTile;
      const std::int64_t tt = std::min(kTimeTile, To - t0);
      const std::int64_t c0 = cb * kChannelTile;
      const std::int64_t nc = std::min(kChannelTile, Cog - c0);
      const float* xg = xd + (b * C_in + g * Cig) * T;
      const float* src = nullptr;
      std::int64_t ldb = 0;
      if (direct) {
        src = xg + t0;
        ldb = T;
      } else {
        for (std::int64_t ci = 0; ci < Cig; ++ci) {
          for (std::int64_t k = 0; k < K; ++k) {
            float* row = col.data() + (ci * K + k) * tt;
            const float* xr = xg + ci * T;
            const std::int64_t offset = t0 * s + k * d - pl;  // input index of column 0
            std::int64_t u0 = 0, u1 = 0;
            valid_range(offset, s, T, tt, u0, u1);
            std::fill(row, row + u0, 0.0f);
            if (s == 1) {
              std::copy(xr + u0 + offset, xr + u1 + offset, row + u0);
            } else {
              for (std::int64_t u = u0; u < u1; ++u) row[u] = xr[u * s + offset];
            }
            std::fill(row + u1, row + tt, 0.0f);
          }
        }
        src = col.data();
        ldb = tt;
      }
      const std::int64_t co = g * Cog + c0;  // first output channel of this item
      float* dst = od + (b * C_out + co) * To + t0;
      cpu::sgemm(false, false, nc, tt, Kc, 1.0f, wd + co * Kc, Kc, src, ldb, 0.0f, dst, To);
      if (bd != nullptr) {
        for (std::int64_t c = 0; c < nc; ++c) {
          float* orow = dst + c * To;
          const float bv = bd[co + c];
          for (std::int64_t u = 0; u < tt; ++u) orow[u] += bv;
        }
      }
    }
  });
}

void pad1d(const ExecContext& ctx, const Tensor& x, std::int64_t left, std::int64_t right,
           PadMode mode, Tensor& out) {
  check_dtype(x, DType::F32, "pad1d: x");
  CHATTERD_CHECK(x.rank() >= 1, ShapeError, "pad1d: x must have rank >= 1, got {}", x.to_string());
  CHATTERD_CHECK(left >= 0 && right >= 0, InvalidArgument,
                 "pad1d: padding must be >= 0 (left {}, right {})", left, right);
  const std::int64_t T = x.dim(-1);
  if (mode == PadMode::Reflect) {
    CHATTERD_CHECK(left < T && right < T, ShapeError,
                   "pad1d: reflect padding ({}, {}) must be smaller than the length {} (x {})",
                   left, right, T, x.to_string());
  } else if (mode == PadMode::Replicate) {
    CHATTERD_CHECK(T >= 1 || (left == 0 && right == 0), ShapeError,
                   "pad1d: replicate padding of an empty axis (x {})", x.to_string());
  }
  Shape shape = x.shape();
  const std::int64_t To = T + left + right;
  shape.set(-1, To);
  CHATTERD_CHECK(out.raw_data() != x.raw_data() || x.numel() == 0, InvalidArgument,
                 "pad1d: out must not alias x");
  if (detail::on_cuda(x)) {
#ifdef CHATTERD_HAVE_CUDA
    auto& dc = detail::cuda_context(ctx, "pad1d", {});
    dc.ensure(out, shape, DType::F32);
    const cuda::PadKind kind = mode == PadMode::Zero      ? cuda::PadKind::Zero
                               : mode == PadMode::Reflect ? cuda::PadKind::Reflect
                                                          : cuda::PadKind::Replicate;
    if (x.numel() == 0) {
      dc.fill_zero(out);
      return;
    }
    cuda::pad1d_f32(dc.stream().handle(), x.device_data<float>(), out.device_data<float>(),
                    x.numel() / T, T, left, right, kind);
    return;
#else
    detail::no_cuda_build("pad1d");
#endif
  }
  out.resize(shape, DType::F32);
  const std::int64_t rows = x.numel() / std::max<std::int64_t>(T, 1);
  if (To == 0 || x.numel() == 0) {
    if (out.numel() > 0) std::fill(out.data<float>(), out.data<float>() + out.numel(), 0.0f);
    return;
  }
  const float* xd = x.data<float>();
  float* od = out.data<float>();
  ctx.parallel_for(
      rows, std::max<std::int64_t>(1, 16384 / To), [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r) {
          const float* xr = xd + r * T;
          float* orow = od + r * To;
          std::copy(xr, xr + T, orow + left);
          for (std::int64_t i = 0; i < left; ++i) {
            const std::int64_t src = i - left;  // negative input index
            orow[i] = mode == PadMode::Zero ? 0.0f : mode == PadMode::Reflect ? xr[-src] : xr[0];
          }
          for (std::int64_t i = 0; i < right; ++i) {
            orow[left + T + i] = mode == PadMode::Zero      ? 0.0f
                                 : mode == PadMode::Reflect ? xr[T - 2 - i]
                                                            : xr[T - 1];
          }
        }
      });
}

}  // namespace chatterd::ops
