#pragma once
// One CUDA device context that many threads share, one call at a time: what a model's device
// copy runs on when requests call it from their own threads (S3GenFlow, Hift). The device would
// serialise their work anyway; batching concurrent calls is the caller's (VocoderBatcher).

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "core/caching_allocator.h"
#include "ops/exec_context.h"

namespace chatterd::cuda {
class BusyTimer;
}  // namespace chatterd::cuda

namespace chatterd::ops {

// Device time of a lane's calls since it was made (CUDA events around each run()).
struct DeviceBusy {
  std::int64_t calls = 0;
  double device_ms = 0.0;
};

class DeviceLane {
 public:
  // Throws Unsupported where the build has no CUDA backend or the device does not exist.
  explicit DeviceLane(int device);
  ~DeviceLane();
  DeviceLane(const DeviceLane&) = delete;
  DeviceLane& operator=(const DeviceLane&) = delete;

  int device() const { return device_; }
  // fn(ctx) under the lane's lock, ctx = host_ctx with this lane's context, the device current on
  // the calling thread (which stays on it afterwards: callers drive no other device).
  template <class Fn>
  decltype(auto) run(const ExecContext& host_ctx, Fn&& fn) {
    const std::lock_guard<std::mutex> lock(mutex_);
    ExecContext ctx = host_ctx;
    ctx.cuda = enter();
    const Timed timed(*this);  // the call's device time, measured with events on the stream
    return std::forward<Fn>(fn)(std::as_const(ctx));
  }
  // The context's caching allocator (the allocator locks itself: callable during a run).
  CachingAllocatorStats memory() const;
  // Any thread.
  DeviceBusy busy() const;

 private:
  cuda::DeviceContext* enter();  // makes the device current, returns the context
  void begin_timing();
  void end_timing() noexcept;
  struct Timed {
    explicit Timed(DeviceLane& lane) : lane_(lane) { lane_.begin_timing(); }
    ~Timed() { lane_.end_timing(); }
    Timed(const Timed&) = delete;
    Timed& operator=(const Timed&) = delete;
    DeviceLane& lane_;
  };

  int device_;
  std::shared_ptr<cuda::DeviceContext> dc_;  // shared_ptr: no complete type needed without CUDA
  std::shared_ptr<cuda::BusyTimer> busy_;
  std::mutex mutex_;
};

}  // namespace chatterd::ops
