#include "backends/cuda/context.h"

#include <cstring>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/gemm.h"
#include "backends/cuda/graph.h"
#include "core/check.h"

namespace chatterd::cuda {
namespace {

class DeviceRaw final : public RawAllocator {
 public:
  explicit DeviceRaw(int device) : device_(device) {}
  void* allocate(std::size_t bytes) override {
    // A cache miss while a graph is being captured: cudaMalloc is legal there only in relaxed
    // capture mode (the captured work never sees the allocation itself).
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    cudaThreadExchangeStreamCaptureMode(&mode);
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, bytes);
    cudaThreadExchangeStreamCaptureMode(&mode);
    if (status != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    return p;
  }
  void release(void* p, std::size_t) noexcept override {
    cudaFree(p);
    cudaGetLastError();
  }
  std::string_view name() const override { return device_ == 0 ? "cuda:0" : "cuda"; }

 private:
  int device_;
};

class PinnedRaw final : public RawAllocator {
 public:
  void* allocate(std::size_t bytes) override {
    void* p = nullptr;
    if (cudaMallocHost(&p, bytes) != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    return p;
  }
  void release(void* p, std::size_t) noexcept override {
    cudaFreeHost(p);
    cudaGetLastError();
  }
  std::string_view name() const override { return "pinned host"; }
};

int checked_device(int device) {
  const int n = device_count();
  CHATTERD_CHECK(n > 0, Unsupported, "CUDA: no device ({})", no_device_reason());
  CHATTERD_CHECK(device >= 0 && device < n, InvalidArgument,
                 "CUDA device {} does not exist ({} visible)", device, n);
  return device;
}

}  // namespace

DeviceContext::DeviceContext(int device)
    : stream_(checked_device(device)),
      device_memory_(std::make_unique<DeviceRaw>(device)),
      pinned_memory_(std::make_unique<PinnedRaw>()) {
  detail::check(cublasLtCreate(&cublaslt_), "cublasLtCreate");
  workspace_ = device_memory_.allocate(kWorkspaceBytes);
  gemm_plans_ = std::make_unique<GemmPlans>();
}

DeviceContext::~DeviceContext() {
  // Unchecked: a destructor must not throw, and after a kernel fault the error was (or will be)
  // reported by the call that saw it.
  cudaStreamSynchronize(stream_.handle());
  cudaGetLastError();
  workspace_.reset();
  gemm_plans_.reset();  // its descriptors before the handle
  if (cublaslt_ != nullptr) cublasLtDestroy(cublaslt_);
}

std::shared_ptr<void> DeviceContext::scratch(std::size_t bytes) {
  auto block = device_memory_.allocate(bytes);
  if (capturing_ != nullptr) capturing_->retain(block);
  return block;
}

void DeviceContext::capture(Graph& graph, const std::function<void()>& body) {
  CHATTERD_CHECK(capturing_ == nullptr, Internal, "nested CUDA graph capture");
  graph.reset();  // the old graph's scratch is released: it must never be launched again
  graph.begin_capture(stream_);
  capturing_ = &graph;
  // Blocks freed while capturing may be read or written by the graph at every replay: they stay
  // with the graph instead of returning to the cache.
  device_memory_.set_capture_sink(&graph.retained());
  try {
    body();
  } catch (...) {
    device_memory_.set_capture_sink(nullptr);
    capturing_ = nullptr;
    cudaGraph_t broken = nullptr;  // end the capture so the stream is usable again
    cudaStreamEndCapture(stream_.handle(), &broken);
    if (broken != nullptr) cudaGraphDestroy(broken);
    graph.reset();
    throw;
  }
  device_memory_.set_capture_sink(nullptr);
  capturing_ = nullptr;
  graph.end_capture(stream_);
}

Tensor DeviceContext::empty(const Shape& shape, DType dtype) {
  const std::size_t bytes = storage_bytes(dtype, shape.numel());
  auto block = scratch(bytes);
  void* p = block.get();
  return Tensor::borrow(p, shape, dtype, std::move(block), Device::CUDA);
}

void DeviceContext::ensure(Tensor& t, const Shape& shape, DType dtype) {
  if (t.device() == Device::CUDA && t.shape() == shape && t.dtype() == dtype &&
      t.raw_data() != nullptr) {
    return;
  }
  t = empty(shape, dtype);
}

Tensor DeviceContext::to_device(const Tensor& host) {
  CHATTERD_CHECK(host.device() == Device::CPU, InvalidArgument,
                 "to_device: {} is already on the device", host.to_string());
  Tensor out = empty(host.shape(), host.dtype());
  const std::size_t bytes = host.nbytes();
  if (bytes == 0) return out;
  auto staging = pinned_memory_.allocate(bytes);
  std::memcpy(staging.get(), host.raw_data(), bytes);
  detail::check(cudaMemcpyAsync(out.raw_data(), staging.get(), bytes, cudaMemcpyHostToDevice,
                                stream_.handle()),
                "to_device");
  stream_.synchronize();  // the staging block goes back to the cache below
  return out;
}

Tensor DeviceContext::to_host(const Tensor& device_tensor) {
  check_on_device(device_tensor, "to_host");
  Tensor out = Tensor::empty(device_tensor.shape(), device_tensor.dtype());
  const std::size_t bytes = device_tensor.nbytes();
  if (bytes == 0) return out;
  auto staging = pinned_memory_.allocate(bytes);
  detail::check(cudaMemcpyAsync(staging.get(), device_tensor.raw_data(), bytes,
                                cudaMemcpyDeviceToHost, stream_.handle()),
                "to_host");
  stream_.synchronize();
  std::memcpy(out.raw_data(), staging.get(), bytes);
  return out;
}

void DeviceContext::upload(const void* host, std::size_t bytes, void* device_dst) {
  if (bytes == 0) return;
  auto staging = pinned_memory_.allocate(bytes);
  std::memcpy(staging.get(), host, bytes);
  detail::check(
      cudaMemcpyAsync(device_dst, staging.get(), bytes, cudaMemcpyHostToDevice, stream_.handle()),
      "upload");
  stream_.synchronize();  // the staging block goes back to the cache below
}

void DeviceContext::download(const void* device_src, std::size_t bytes, void* host_dst) {
  if (bytes == 0) return;
  auto staging = pinned_memory_.allocate(bytes);
  detail::check(
      cudaMemcpyAsync(staging.get(), device_src, bytes, cudaMemcpyDeviceToHost, stream_.handle()),
      "download");
  stream_.synchronize();
  std::memcpy(host_dst, staging.get(), bytes);
}

void DeviceContext::make_current() const {
  detail::check(cudaSetDevice(device()), "cudaSetDevice");
}

void DeviceContext::copy(const Tensor& from, Tensor& to) {
  check_on_device(from, "copy: source");
  check_on_device(to, "copy: destination");
  CHATTERD_CHECK(from.nbytes() == to.nbytes(), ShapeError, "copy: {} into {}", from.to_string(),
                 to.to_string());
  if (from.nbytes() == 0 || from.raw_data() == to.raw_data()) return;
  detail::check(cudaMemcpyAsync(to.raw_data(), from.raw_data(), from.nbytes(),
                                cudaMemcpyDeviceToDevice, stream_.handle()),
                "copy");
}

void DeviceContext::copy_rows(void* dst, std::size_t dst_pitch, const void* src,
                              std::size_t src_pitch, std::size_t width, std::size_t rows) {
  if (width == 0 || rows == 0) return;
  detail::check(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, width, rows,
                                  cudaMemcpyDeviceToDevice, stream_.handle()),
                "copy_rows");
}

void DeviceContext::fill_zero(Tensor& t) {
  check_on_device(t, "fill_zero");
  if (t.nbytes() == 0) return;
  detail::check(cudaMemsetAsync(t.raw_data(), 0, t.nbytes(), stream_.handle()), "fill_zero");
}

void check_on_device(const Tensor& t, const char* what) {
  CHATTERD_CHECK(t.device() == Device::CUDA, InvalidArgument,
                 "{}: {} is a host tensor; this call takes CUDA tensors", what, t.to_string());
}

}  // namespace chatterd::cuda
