#include "ops/device.h"

#include <algorithm>
#include <cstring>

#include "core/check.h"
#include "ops/convert.h"
#include "ops/cuda_dispatch.h"

namespace chatterd::ops {

Tensor to_device(const ExecContext& ctx, const Tensor& host) {
#ifdef CHATTERD_HAVE_CUDA
  return detail::cuda_context(ctx, "to_device", {}).to_device(host);
#else
  (void)ctx, (void)host;
  detail::no_cuda_build("to_device");
#endif
}

Tensor to_host(const ExecContext& ctx, const Tensor& t) {
  if (!detail::on_cuda(t)) return t;
#ifdef CHATTERD_HAVE_CUDA
  return detail::cuda_context(ctx, "to_host", {}).to_host(t);
#else
  (void)ctx;
  detail::no_cuda_build("to_host");
#endif
}

void ensure_like(const ExecContext& ctx, const Tensor& like, Tensor& out, const Shape& shape,
                 DType dtype) {
  if (!detail::on_cuda(like)) {
    out.resize(shape, dtype);
    return;
  }
#ifdef CHATTERD_HAVE_CUDA
  detail::cuda_context(ctx, "ensure_like", {}).ensure(out, shape, dtype);
#else
  (void)ctx;
  detail::no_cuda_build("ensure_like");
#endif
}

void fill_zero(const ExecContext& ctx, Tensor& t) {
  if (!detail::on_cuda(t)) {
    if (t.nbytes() > 0) std::memset(t.raw_data(), 0, t.nbytes());
    return;
  }
#ifdef CHATTERD_HAVE_CUDA
  detail::cuda_context(ctx, "fill_zero", {}).fill_zero(t);
#else
  (void)ctx;
  detail::no_cuda_build("fill_zero");
#endif
}

Tensor gemm_weight_to_device(const ExecContext& ctx, const Tensor& weight, DType dtype) {
  const std::int64_t row =
      weight.numel() / std::max<std::int64_t>(weight.rank() > 0 ? weight.dim(0) : 1, 1);
  if (dtype == DType::F32 || row % 8 != 0) return to_device(ctx, weight);
  Tensor converted;
  convert(ctx, weight, dtype, converted);
  return to_device(ctx, converted);
}

Tensor device_empty(const ExecContext& ctx, const Shape& shape, DType dtype) {
#ifdef CHATTERD_HAVE_CUDA
  return detail::cuda_context(ctx, "device_empty", {}).empty(shape, dtype);
#else
  (void)ctx, (void)shape, (void)dtype;
  detail::no_cuda_build("device_empty");
#endif
}

}  // namespace chatterd::ops
