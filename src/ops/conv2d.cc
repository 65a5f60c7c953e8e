#include "ops/conv2d.h"

#include <vector>

#include "backends/cpu/blas.h"
#include "core/check.h"

namespace chatterd::ops {

std::int64_t conv2d_output_size(std::int64_t n, std::int64_t kernel, std::int64_t stride,
                                std::int64_t pad) {
  CHATTERD_CHECK(kernel > 0 && stride > 0 && pad >= 0, InvalidArgument,
                 "conv2d: need kernel > 0, stride > 0, pad >= 0; got {}, {}, {}", kernel, stride,
                 pad);
  CHATTERD_CHECK(n + 2 * pad >= kernel, ShapeError,
                 "conv2d: kernel {} is longer than the padded input {} (size {}, pad {})", kernel,
                 n + 2 * pad, n, pad);
  return (n + 2 * pad - kernel) / stride + 1;
}

void conv2d(const ExecContext& ctx, const Tensor& x, const Tensor& w, const Tensor* bias,
            const Conv2dOptions& o, Tensor& out) {
  check_dtype(x, DType::F32, "conv2d: x");
  check_dtype(w, DType::F32, "conv2d: w");
  check_rank(x, 4, "conv2d: x");
  check_rank(w, 4, "conv2d: w");
  const std::int64_t batch = x.dim(0), cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
  const std::int64_t cout = w.dim(0), kh = w.dim(2), kw = w.dim(3);
  CHATTERD_CHECK(w.dim(1) == cin, ShapeError, "conv2d: w {} expects {} input channels, x {} has {}",
                 w.to_string(), w.dim(1), x.to_string(), cin);
  if (bias != nullptr) {
    check_dtype(*bias, DType::F32, "conv2d: bias");
    check_shape(*bias, {cout}, "conv2d: bias");
  }
  CHATTERD_CHECK(out.raw_data() == nullptr || out.raw_data() != x.raw_data(), InvalidArgument,
                 "conv2d: out must not alias x");
  const std::int64_t ho = conv2d_output_size(h, kh, o.stride_h, o.pad_h);
  const std::int64_t wo = conv2d_output_size(wd, kw, o.stride_w, o.pad_w);
  out.resize({batch, cout, ho, wo}, DType::F32);
  if (out.numel() == 0) return;
  const std::int64_t k = cin * kh * kw;
  const float* xs = x.data<float>();
  const float* ws = w.data<float>();
  const float* bs = bias != nullptr ? bias->data<float>() : nullptr;
  float* ys = out.data<float>();
  const std::int64_t plane = ho * wo;

  ctx.parallel_for(batch * ho, 1, [&](std::int64_t begin, std::int64_t end) {
    std::vector<float> col(static_cast<std::size_t>(k * wo));
    for (std::int64_t r = begin; r < end; ++r) {
      const std::int64_t b = r / ho, oh = r % ho;
      const float* xb = xs + b * cin * h * wd;
      // col[(c, i, j), ow] = x[c, oh*sh - ph + i, ow*sw - pw + j] (0 outside).
      for (std::int64_t c = 0; c < cin; ++c) {
        for (std::int64_t i = 0; i < kh; ++i) {
          const std::int64_t ih = oh * o.stride_h - o.pad_h + i;
          for (std::int64_t j = 0; j < kw; ++j) {
            float* dst = col.data() + ((c * kh + i) * kw + j) * wo;
            if (ih < 0 || ih >= h) {
              for (std::int64_t ow = 0; ow < wo; ++ow) dst[ow] = 0.0f;
              continue;
            }
            const float* row = xb + (c * h + ih) * wd;
            for (std::int64_t ow = 0; ow < wo; ++ow) {
              const std::int64_t iw = ow * o.stride_w - o.pad_w + j;
              dst[ow] = (iw >= 0 && iw < wd) ? row[iw] : 0.0f;
            }
          }
        }
      }
      float* y = ys + b * cout * plane + oh * wo;
      cpu::sgemm(false, false, cout, wo, k, 1.0f, ws, k, col.data(), wo, 0.0f, y, plane);
      if (bs != nullptr) {
        for (std::int64_t oc = 0; oc < cout; ++oc) {
          for (std::int64_t ow = 0; ow < wo; ++ow) y[oc * plane + ow] += bs[oc];
        }
      }
    }
  });
}

}  // namespace chatterd::ops
