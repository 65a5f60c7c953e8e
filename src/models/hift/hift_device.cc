// Hift's device path (use_device, decode_stack_on_device): a device copy of the convolution
// stack on an ops::DeviceLane (one call at a time). Without the CUDA backend, use_device refuses
// with a reason.

#include <fmt/format.h>

#include <optional>
#include <utility>

#include "core/check.h"
#include "models/hift/hift.h"
#include "ops/device.h"
#include "ops/device_lane.h"

namespace chatterd::hift {

struct Hift::DeviceStack {
  explicit DeviceStack(int device) : lane(device) {}
  ops::DeviceLane lane;
  std::optional<HiftDecoderStack> stack;  // destroyed before the lane's context
  std::string description;
};

void Hift::use_device(int device, DType dtype) {
  CHATTERD_CHECK(dtype == DType::F32 || dtype == DType::BF16, InvalidArgument,
                 "Hift::use_device: matrices must be f32 or bf16, got {}", dtype_name(dtype));
  auto d = std::make_shared<DeviceStack>(device);
  d->lane.run(ExecContext{}, [&](const ExecContext& ctx) {
    d->stack.emplace(stack_);  // shares the host weights until to_device replaces them
    d->stack->to_device(ctx, dtype);
  });
  d->description = fmt::format("cuda:{} ({})", device, dtype_name(dtype));
  device_ = std::move(d);
}

std::string Hift::device_description() const {
  return device_ ? device_->description : std::string();
}

CachingAllocatorStats Hift::device_memory() const {
  return device_ ? device_->lane.memory() : CachingAllocatorStats{};
}

ops::DeviceBusy Hift::device_busy() const {
  return device_ ? device_->lane.busy() : ops::DeviceBusy{};
}

Tensor Hift::decode_stack_on_device(const ExecContext& host_ctx, const Tensor& mel,
                                    const Tensor& s_stft) const {
  return device_->lane.run(host_ctx, [&](const ExecContext& ctx) {
    Tensor y;
    device_->stack->forward(ctx, config_, ops::to_device(ctx, mel), ops::to_device(ctx, s_stft), y);
    return ops::to_host(ctx, y);  // waits for the stream
  });
}

}  // namespace chatterd::hift
