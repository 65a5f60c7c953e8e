#include "ops/upsample.h"

#include "core/check.h"
#include "ops/cuda_dispatch.h"

namespace chatterd::ops {

void upsample_nearest1d(const ExecContext& ctx, const Tensor& x, std::int64_t factor, Tensor& out) {
  check_dtype(x, DType::F32, "upsample_nearest1d: x");
  CHATTERD_CHECK(x.rank() >= 1 && factor >= 1, InvalidArgument,
                 "upsample_nearest1d: need rank >= 1 and factor >= 1, got {} and {}",
                 x.shape().to_string(), factor);
  const std::int64_t t = x.dim(-1);
  Shape os = x.shape();
  os.set(os.rank() - 1, t * factor);
  CHATTERD_CHECK(out.raw_data() != x.raw_data() || x.numel() == 0, InvalidArgument,
                 "upsample_nearest1d: out must not alias x");
  if (detail::on_cuda(x)) {
#ifdef CHATTERD_HAVE_CUDA
    auto& dc = detail::cuda_context(ctx, "upsample_nearest1d", {});
    dc.ensure(out, os, DType::F32);
    cuda::upsample_nearest1d_f32(dc.stream().handle(), x.device_data<float>(),
                                 out.device_data<float>(), t == 0 ? 0 : x.numel() / t, t, factor);
    return;
#else
    detail::no_cuda_build("upsample_nearest1d");
#endif
  }
  out.resize(os, DType::F32);
  const std::int64_t rows = t == 0 ? 0 : x.numel() / t;
  const float* src = x.data<float>();
  float* dst = out.data<float>();
  ctx.parallel_for(rows, 16, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const float* in = src + r * t;
      float* o = dst + r * t * factor;
      for (std::int64_t i = 0; i < t; ++i) {
        for (std::int64_t k = 0; k < factor; ++k) o[i * factor + k] = in[i];
      }
    }
  });
}

}  // namespace chatterd::ops
