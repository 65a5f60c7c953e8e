// Hift's device path (use_device, decode_stack_on_device): a device copy of the convolution
// stack, its DeviceContext, and one call at a time on it. Without the CUDA backend, use_device
// refuses with a reason.

#include <fmt/format.h>

#include <mutex>
#include <optional>
#include <utility>

#include "core/check.h"
#include "models/hift/hift.h"
#include "ops/device.h"

#ifdef CHATTERD_HAVE_CUDA
#include "backends/cuda/context.h"
#endif

namespace chatterd::hift {

struct Hift::DeviceStack {
#ifdef CHATTERD_HAVE_CUDA
  std::unique_ptr<cuda::DeviceContext> dc;
#endif
  std::mutex mutex;  // one call at a time on dc (a context serves one thread)
  std::optional<HiftDecoderStack> stack;
  std::string description;
};

void Hift::use_device(int device, DType dtype) {
  CHATTERD_CHECK(dtype == DType::F32 || dtype == DType::BF16, InvalidArgument,
                 "Hift::use_device: matrices must be f32 or bf16, got {}", dtype_name(dtype));
#ifdef CHATTERD_HAVE_CUDA
  auto d = std::make_shared<DeviceStack>();
  d->dc = std::make_unique<cuda::DeviceContext>(device);
  ExecContext ctx;
  ctx.cuda = d->dc.get();
  d->stack.emplace(stack_);  // shares the host weights until to_device replaces them
  d->stack->to_device(ctx, dtype);
  d->dc->synchronize();
  d->description = fmt::format("cuda:{} ({})", device, dtype_name(dtype));
  device_ = std::move(d);
#else
  (void)device;
  CHATTERD_THROW(Unsupported, "Hift::use_device: this build has no CUDA backend");
#endif
}

std::string Hift::device_description() const {
  return device_ ? device_->description : std::string();
}

CachingAllocatorStats Hift::device_memory() const {
#ifdef CHATTERD_HAVE_CUDA
  if (device_) return device_->dc->device_memory().stats();  // the allocator locks itself
#endif
  return {};
}

Tensor Hift::decode_stack_on_device(const ExecContext& host_ctx, const Tensor& mel,
                                    const Tensor& s_stft) const {
#ifdef CHATTERD_HAVE_CUDA
  const std::lock_guard<std::mutex> lock(device_->mutex);
  cuda::DeviceContext& dc = *device_->dc;
  // The calling thread may not be the one that built the context. It stays on this device
  // afterwards: vocoder threads drive no other device context.
  dc.make_current();
  ExecContext ctx = host_ctx;
  ctx.cuda = &dc;
  const Tensor d_mel = ops::to_device(ctx, mel);
  const Tensor d_stft = ops::to_device(ctx, s_stft);
  Tensor y;
  device_->stack->forward(ctx, config_, d_mel, d_stft, y);
  return ops::to_host(ctx, y);  // waits for the stream
#else
  (void)host_ctx, (void)mel, (void)s_stft;
  CHATTERD_THROW(Unsupported, "Hift: this build has no CUDA backend");
#endif
}

}  // namespace chatterd::hift
