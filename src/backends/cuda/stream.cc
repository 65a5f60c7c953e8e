#include "backends/cuda/stream.h"

#include "backends/cuda/cuda_check.h"
#include "core/check.h"

namespace chatterd::cuda {

Stream::Stream(int device) : device_(device) {
  detail::check(cudaSetDevice(device), "cudaSetDevice");
  detail::check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
}

Stream::~Stream() {
  if (stream_ != nullptr) {
    cudaStreamSynchronize(stream_);  // kernels may still read memory their owners free next
    cudaStreamDestroy(stream_);
    cudaGetLastError();  // unchecked in a destructor; do not leave it for the next check
  }
}

void Stream::synchronize() const {
  detail::check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

Event::Event() {
  detail::check(cudaEventCreate(&event_), "cudaEventCreate");
}

Event::~Event() {
  if (event_ != nullptr) cudaEventDestroy(event_);
}

void Event::record(const Stream& stream) {
  detail::check(cudaEventRecord(event_, stream.handle()), "cudaEventRecord");
}

void Event::synchronize() const {
  detail::check(cudaEventSynchronize(event_), "cudaEventSynchronize");
}

float Event::elapsed_ms(const Event& start, const Event& end) {
  end.synchronize();
  float ms = 0;
  detail::check(cudaEventElapsedTime(&ms, start.event_, end.event_), "cudaEventElapsedTime");
  return ms;
}

void BusyTimer::begin(const Stream& stream) {
  start_.record(stream);
}

void BusyTimer::end(const Stream& stream) noexcept {
  try {
    stop_.record(stream);
    const double ms = Event::elapsed_ms(start_, stop_);
    total_ns_.fetch_add(static_cast<std::int64_t>(ms * 1e6));
    calls_.fetch_add(1);
  } catch (...) {  // NOLINT(bugprone-empty-catch): see end()'s contract
  }
}

}  // namespace chatterd::cuda
