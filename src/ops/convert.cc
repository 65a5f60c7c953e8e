#include "ops/convert.h"

#include <cstring>
#include <vector>

#include "backends/cpu/convert_kernels.h"
#include "chatterd/core/half.h"
#include "core/check.h"
#include "ops/cuda_dispatch.h"

namespace chatterd::ops {
namespace {

constexpr std::int64_t kConvertGrain = 32768;

}  // namespace

void convert(const ExecContext& ctx, const Tensor& in, DType dtype, Tensor& out) {
  CHATTERD_CHECK(dtype_is_float(in.dtype()) && dtype_is_float(dtype), DTypeError,
                 "convert: only f32/f16/bf16 are supported, got {} -> {}", in.to_string(),
                 dtype_name(dtype));
  if (&out == &in) {
    if (in.dtype() == dtype) return;
    Tensor tmp;
    convert(ctx, in, dtype, tmp);
    out = tmp;
    return;
  }
  if (detail::on_cuda(in)) {
#ifdef CHATTERD_HAVE_CUDA
    auto& dc = detail::cuda_context(ctx, "convert", {});
    dc.ensure(out, in.shape(), dtype);
    if (in.dtype() == dtype) {
      dc.copy(in, out);
    } else {
      cuda::convert(dc.stream().handle(), in.raw_data(), in.dtype(), out.raw_data(), dtype,
                    in.numel());
    }
    return;
#else
    detail::no_cuda_build("convert");
#endif
  }
  out.resize(in.shape(), dtype);
  const std::int64_t n = in.numel();
  if (n == 0) return;
  if (in.dtype() == dtype) {
    if (out.raw_data() != in.raw_data()) std::memcpy(out.raw_data(), in.raw_data(), in.nbytes());
    return;
  }
  const auto& k = cpu::convert_kernels(ctx.isa);
  const DType from = in.dtype();
  ctx.parallel_for(n, kConvertGrain, [&](std::int64_t b, std::int64_t e) {
    const std::int64_t len = e - b;
    if (from == DType::F32) {
      const float* src = in.data<float>() + b;
      if (dtype == DType::F16) {
        k.f32_to_f16(src, out.data<Half>() + b, len);
      } else {
        k.f32_to_bf16(src, out.data<BFloat16>() + b, len);
      }
      return;
    }
    // From a 16-bit type: to f32 directly, or through an f32 buffer to the other 16-bit type.
    float* dst = dtype == DType::F32 ? out.data<float>() + b : nullptr;
    std::vector<float> buf;
    if (dst == nullptr) {
      buf.resize(static_cast<std::size_t>(len));
      dst = buf.data();
    }
    if (from == DType::F16) {
      k.f16_to_f32(in.data<Half>() + b, dst, len);
    } else {
      k.bf16_to_f32(in.data<BFloat16>() + b, dst, len);
    }
    if (dtype == DType::F16) k.f32_to_f16(dst, out.data<Half>() + b, len);
    if (dtype == DType::BF16) k.f32_to_bf16(dst, out.data<BFloat16>() + b, len);
  });
}

}  // namespace chatterd::ops
