#include "ops/device_lane.h"

#include "core/check.h"

#ifdef CHATTERD_HAVE_CUDA
#include "backends/cuda/context.h"
#include "backends/cuda/stream.h"
#endif

namespace chatterd::ops {

#ifdef CHATTERD_HAVE_CUDA
DeviceLane::DeviceLane(int device)
    : device_(device), dc_(std::make_shared<cuda::DeviceContext>(device)) {
  dc_->make_current();  // the timer's events belong to this device
  busy_ = std::make_shared<cuda::BusyTimer>();
}

DeviceLane::~DeviceLane() = default;

cuda::DeviceContext* DeviceLane::enter() {
  dc_->make_current();
  return dc_.get();
}

CachingAllocatorStats DeviceLane::memory() const {
  return dc_->device_memory().stats();
}

void DeviceLane::begin_timing() {
  busy_->begin(dc_->stream());
}

void DeviceLane::end_timing() noexcept {
  busy_->end(dc_->stream());
}

DeviceBusy DeviceLane::busy() const {
  return {.calls = busy_->calls(), .device_ms = busy_->total_ms()};
}
#else
DeviceLane::DeviceLane(int device) : device_(device) {
  CHATTERD_THROW(Unsupported, "device {}: this build has no CUDA backend", device);
}

DeviceLane::~DeviceLane() = default;

cuda::DeviceContext* DeviceLane::enter() {
  return nullptr;
}

CachingAllocatorStats DeviceLane::memory() const {
  return {};
}

void DeviceLane::begin_timing() {}

void DeviceLane::end_timing() noexcept {}

DeviceBusy DeviceLane::busy() const {
  return {};
}
#endif

}  // namespace chatterd::ops
