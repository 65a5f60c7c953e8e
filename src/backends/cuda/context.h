#pragma once
// Everything CUDA ops need to run on one device for one worker: the stream they are queued on,
// the caching allocator for their outputs and scratch (tied to that stream, so a freed block is
// safe for the next kernel), a pinned-host cache for transfers and the cuBLASLt handle with its
// workspace. One per engine worker; not shared across threads.

#include <cstddef>
#include <functional>
#include <memory>

#include "backends/cuda/stream.h"
#include "chatterd/core/tensor.h"
#include "core/caching_allocator.h"

struct cublasLtContext;

namespace chatterd::cuda {

class Graph;
class GemmPlans;

class DeviceContext {
 public:
  // Throws Unsupported when the device does not exist (with the runtime's reason).
  explicit DeviceContext(int device = 0);
  ~DeviceContext();
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  int device() const { return stream_.device(); }
  // Makes this context's device the calling thread's current one (the runtime's current device
  // is per thread: a context built on one thread and driven from another must call this there).
  void make_current() const;
  const Stream& stream() const { return stream_; }
  CachingAllocator& device_memory() { return device_memory_; }
  CachingAllocator& pinned_memory() { return pinned_memory_; }
  cublasLtContext* cublaslt() const { return cublaslt_; }
  void* cublaslt_workspace() const { return workspace_.get(); }
  std::size_t cublaslt_workspace_bytes() const { return kWorkspaceBytes; }
  // cuBLASLt plans by problem (backends/cuda/gemm.h), owned here: one context, one thread.
  GemmPlans& gemm_plans() { return *gemm_plans_; }

  // An uninitialised device tensor from the cache.
  Tensor empty(const Shape& shape, DType dtype);
  // Scratch for one op (returns to the cache when dropped; kept by the graph while capturing).
  std::shared_ptr<void> scratch(std::size_t bytes);
  // Captures what `body` queues on the stream into `graph` instead of running it. Every block
  // allocated meanwhile is retained by the graph. The stream must be idle of other work.
  void capture(Graph& graph, const std::function<void()>& body);
  // Makes `t` a device tensor of (shape, dtype): kept when it already is one (ops write into
  // views), else a fresh block. The CUDA counterpart of Tensor::resize.
  void ensure(Tensor& t, const Shape& shape, DType dtype);

  // Copies through a pinned staging block; both wait for the copy (the host side is usable at
  // return). Any dtype; the result has the source's shape and dtype.
  Tensor to_device(const Tensor& host);
  Tensor to_host(const Tensor& device_tensor);
  // `bytes` from host memory into device memory at `device_dst` (e.g. a captured graph's input
  // buffer) and back, through a pinned staging block; both wait for the copy.
  void upload(const void* host, std::size_t bytes, void* device_dst);
  void download(const void* device_src, std::size_t bytes, void* host_dst);
  // Device-to-device copy of same-size tensors, queued on the stream.
  void copy(const Tensor& from, Tensor& to);
  // `rows` runs of `width` bytes, `src_pitch` / `dst_pitch` apart (a slice along an inner axis),
  // device to device, queued on the stream.
  void copy_rows(void* dst, std::size_t dst_pitch, const void* src, std::size_t src_pitch,
                 std::size_t width, std::size_t rows);
  // Zero bytes, queued on the stream.
  void fill_zero(Tensor& t);
  void synchronize() const { stream_.synchronize(); }

 private:
  static constexpr std::size_t kWorkspaceBytes = std::size_t{32} << 20;  // cuBLASLt's Hopper advice

  Stream stream_;
  CachingAllocator device_memory_;
  CachingAllocator pinned_memory_;
  cublasLtContext* cublaslt_ = nullptr;
  std::shared_ptr<void> workspace_;
  std::unique_ptr<GemmPlans> gemm_plans_;
  Graph* capturing_ = nullptr;
};

// Throws DTypeError/Unsupported naming `what` unless `t` lives on CUDA (ops' operand check).
void check_on_device(const Tensor& t, const char* what);

}  // namespace chatterd::cuda
