#pragma once
// RAII CUDA stream and event. Headers here stay free of CUDA's own so that ops (.cc, built by the
// host compiler) can hold them; CUstream_st/CUevent_st are the runtime's opaque handle types.

#include <atomic>
#include <cstdint>

struct CUstream_st;
struct CUevent_st;

namespace chatterd::cuda {

class Stream {
 public:
  // A non-blocking stream on `device` (never synchronises with the legacy default stream).
  explicit Stream(int device);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  CUstream_st* handle() const { return stream_; }
  int device() const { return device_; }
  // Waits for everything queued so far; throws the first asynchronous error of the kernels.
  void synchronize() const;

 private:
  CUstream_st* stream_ = nullptr;
  int device_ = 0;
};

// A timing event: record() on a stream, then elapsed_ms(start, end) once both completed.
class Event {
 public:
  Event();
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void record(const Stream& stream);
  void synchronize() const;
  // Milliseconds between two recorded events (waits for `end`).
  static float elapsed_ms(const Event& start, const Event& end);

 private:
  CUevent_st* event_ = nullptr;
};

// The device time of a series of calls on one stream, one call at a time: begin() before a
// call's work is queued, end() after it (which waits for the stream to get there), totals
// readable from any thread. Events measure the stream's time between the two marks, so host
// gaps inside a call count and time spent waiting for the lock before begin() does not.
class BusyTimer {
 public:
  BusyTimer() = default;  // creates its events on the current device
  void begin(const Stream& stream);
  // Adds the call's time; never throws (a failed measurement is dropped, the call's own errors
  // surface where it synchronises).
  void end(const Stream& stream) noexcept;
  double total_ms() const { return static_cast<double>(total_ns_.load()) * 1e-6; }
  std::int64_t calls() const { return calls_.load(); }

 private:
  Event start_;
  Event stop_;
  std::atomic<std::int64_t> total_ns_{0};
  std::atomic<std::int64_t> calls_{0};
};

}  // namespace chatterd::cuda
