#pragma once
// RAII CUDA stream and event. Headers here stay free of CUDA's own so that ops (.cc, built by the
// host compiler) can hold them; CUstream_st/CUevent_st are the runtime's opaque handle types.

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

}  // namespace chatterd::cuda
