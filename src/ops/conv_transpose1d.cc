#include "ops/conv_transpose1d.h"

#include <algorithm>
#include <vector>

#include "backends/cpu/blas.h"
#include "core/check.h"
#include "ops/cuda_dispatch.h"

namespace chatterd::ops {
namespace {

constexpr std::int64_t kTransposeTimeTile = 256;    // input columns per sgemm
constexpr std::int64_t kTransposeChannelTile = 16;  // output channels per work item (fixed, so
                                                    // results do not depend on the thread count)

}  // namespace

std::int64_t conv_transpose1d_output_length(std::int64_t length, std::int64_t kernel_size,
                                            const ConvTranspose1dOptions& o) {
  CHATTERD_CHECK(o.stride >= 1 && o.dilation >= 1 && o.groups >= 1, InvalidArgument,
                 "conv_transpose1d: stride ({}), dilation ({}) and groups ({}) must be >= 1",
                 o.stride, o.dilation, o.groups);
  CHATTERD_CHECK(o.padding >= 0 && o.output_padding >= 0, InvalidArgument,
                 "conv_transpose1d: padding ({}) and output_padding ({}) must be >= 0", o.padding,
                 o.output_padding);
  CHATTERD_CHECK(
      o.output_padding < o.stride || o.output_padding < o.dilation, InvalidArgument,
      "conv_transpose1d: output_padding {} must be smaller than stride {} or dilation {}",
      o.output_padding, o.stride, o.dilation);
  CHATTERD_CHECK(kernel_size >= 1 && length >= 1, ShapeError,
                 "conv_transpose1d: kernel size ({}) and input length ({}) must be >= 1",
                 kernel_size, length);
  const std::int64_t n = (length - 1) * o.stride - 2 * o.padding + o.dilation * (kernel_size - 1) +
                         o.output_padding + 1;
  CHATTERD_CHECK(n >= 1, ShapeError,
                 "conv_transpose1d: output length {} < 1 (length {}, kernel {}, stride {}, "
                 "padding {})",
                 n, length, kernel_size, o.stride, o.padding);
  return n;
}

void conv_transpose1d(const ExecContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
                      const ConvTranspose1dOptions& options, Tensor& out) {
  check_dtype(x, DType::F32, "conv_transpose1d: x");
  check_dtype(w, DType::F32, "conv_transpose1d: w");
  check_rank(x, 3, "conv_transpose1d: x");
  check_rank(w, 3, "conv_transpose1d: w");
  const std::int64_t B = x.dim(0), C_in = x.dim(1), T = x.dim(2);
  const std::int64_t K = w.dim(2);
  const std::int64_t G = options.groups;
  CHATTERD_CHECK(G >= 1 && C_in % G == 0, ShapeError,
                 "conv_transpose1d: input channels {} must be divisible by groups {}", C_in, G);
  CHATTERD_CHECK(w.dim(0) == C_in, ShapeError,
                 "conv_transpose1d: w {} needs dim 0 == C_in = {} (x {})", w.to_string(), C_in,
                 x.to_string());
  const std::int64_t Cig = C_in / G, Cog = w.dim(1), C_out = Cog * G;
  if (bias != nullptr) {
    check_dtype(*bias, DType::F32, "conv_transpose1d: bias");
    check_shape(*bias, Shape{C_out}, "conv_transpose1d: bias");
  }
  const std::int64_t To = conv_transpose1d_output_length(T, K, options);
  if (detail::on_cuda(x)) {
#ifdef CHATTERD_HAVE_CUDA
    // A direct gather per output sample (HiFT's upsampling convs: a few taps land on each).
    auto& dc = detail::cuda_context(ctx, "conv_transpose1d", {&w, bias});
    CHATTERD_CHECK(out.raw_data() != x.raw_data(), InvalidArgument,
                   "conv_transpose1d: out must not alias x");
    dc.ensure(out, Shape{B, C_out, To}, DType::F32);
    cuda::ConvTranspose1dShape s;
    s.batch = B;
    s.c_in = C_in;
    s.c_out = C_out;
    s.length = T;
    s.kernel = K;
    s.t_out = To;
    s.stride = options.stride;
    s.padding = options.padding;
    s.dilation = options.dilation;
    s.groups = G;
    cuda::conv_transpose1d_f32(dc.stream().handle(), x.device_data<float>(), w.device_data<float>(),
                               bias != nullptr ? bias->device_data<float>() : nullptr, s,
                               out.device_data<float>());
    return;
#else
    detail::no_cuda_build("conv_transpose1d");
#endif
  }
  detail::require_host(&w, "conv_transpose1d");
  detail::require_host(bias, "conv_transpose1d");
  out.resize({B, C_out, To}, DType::F32);
  if (out.numel() == 0) return;

  const std::int64_t s = options.stride, d = options.dilation, p = options.padding;
  const float* xd = x.data<float>();
  const float* wd = w.data<float>();
  const float* bd = bias != nullptr ? bias->data<float>() : nullptr;
  float* od = out.data<float>();
  const std::int64_t n_cblocks = (Cog + kTransposeChannelTile - 1) / kTransposeChannelTile;
  const std::int64_t w_row = Cog * K;  // row length of w viewed as [C_in, C_out/groups * K]

  ctx.parallel_for(B * G * n_cblocks, 1, [&](std::int64_t i0, std::int64_t i1) {
    std::vector<float> col(
        static_cast<std::size_t>(kTransposeChannelTile * K * kTransposeTimeTile));
    for (std::int64_t item = i0; item < i1; ++item) {
      const std::int64_t cb = item % n_cblocks;
      const std::int64_t g = (item / n_cblocks) % G;
      const std::int64_t b = item / (n_cblocks * G);
      const std::int64_t c0 = cb * kTransposeChannelTile;
      const std::int64_t nc = std::min(kTransposeChannelTile, Cog - c0);
      float* ob = od + (b * C_out + g * Cog + c0) * To;  // first output row of this item
      for (std::int64_t c = 0; c < nc; ++c) {
        std::fill(ob + c * To, ob + (c + 1) * To, bd != nullptr ? bd[g * Cog + c0 + c] : 0.0f);
      }
      const float* xg = xd + (b * C_in + g * Cig) * T;
      const float* wg = wd + g * Cig * w_row + c0 * K;
      for (std::int64_t t0 = 0; t0 < T; t0 += kTransposeTimeTile) {
        const std::int64_t tt = std::min(kTransposeTimeTile, T - t0);
        // col[c * K + k, u] = sum_ci w[ci, c, k] * x[ci, t0 + u]
        cpu::sgemm(true, false, nc * K, tt, Cig, 1.0f, wg, w_row, xg + t0, T, 0.0f, col.data(), tt);
        for (std::int64_t c = 0; c < nc; ++c) {
          float* orow = ob + c * To;
          for (std::int64_t k = 0; k < K; ++k) {
            const float* crow = col.data() + (c * K + k) * tt;
            // output index of column u: (t0 + u) * s + k * d - p, kept when inside [0, To)
            const std::int64_t offset = t0 * s + k * d - p;
            const std::int64_t u0 = offset >= 0 ? 0 : std::min(tt, (-offset + s - 1) / s);
            const std::int64_t u1 =
                std::clamp<std::int64_t>(To - offset <= 0 ? 0 : (To - offset + s - 1) / s, u0, tt);
            for (std::int64_t u = u0; u < u1; ++u) orow[u * s + offset] += crow[u];
          }
        }
      }
    }
  });
}

}  // namespace chatterd::ops
