#include "ops/device_lane.h"

#include "core/check.h"

#ifdef CHATTERD_HAVE_CUDA
#include "backends/cuda/context.h"
#endif

namespace chatterd::ops {

#ifdef CHATTERD_HAVE_CUDA
DeviceLane::DeviceLane(int device)
    : device_(device), dc_(std::make_shared<cuda::DeviceContext>(device)) {}

DeviceLane::~DeviceLane() = default;

cuda::DeviceContext* DeviceLane::enter() {
  dc_->make_current();
  return dc_.get();
}

CachingAllocatorStats DeviceLane::memory() const {
  return dc_->device_memory().stats();
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
#endif

}  // namespace chatterd::ops
