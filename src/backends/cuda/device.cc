#include "backends/cuda/device.h"

#include <fmt/format.h>

#include "backends/cuda/cuda_check.h"
#include "core/check.h"

namespace chatterd::cuda {

int device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // not sticky, but do not leave it for the next caller
    return 0;
  }
  return n;
}

std::string no_device_reason() {
  int n = 0;
  const cudaError_t status = cudaGetDeviceCount(&n);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return cudaGetErrorString(status);
  }
  return n == 0 ? "no CUDA device is visible" : "";
}

DeviceInfo device_info(int index) {
  const int n = device_count();
  CHATTERD_CHECK(index >= 0 && index < n, InvalidArgument,
                 "CUDA device {} does not exist ({} visible)", index, n);
  cudaDeviceProp prop{};
  detail::check(cudaGetDeviceProperties(&prop, index), "cudaGetDeviceProperties");
  DeviceInfo info;
  info.index = index;
  info.name = prop.name;
  info.compute_major = prop.major;
  info.compute_minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  info.total_memory = prop.totalGlobalMem;
  info.l2_bytes = static_cast<std::size_t>(prop.l2CacheSize);
  int clock_khz = 0;
  int bus_bits = 0;
  // cudaDeviceProp lost memoryClockRate in CUDA 13: ask for the attributes.
  if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, index) == cudaSuccess &&
      cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, index) == cudaSuccess) {
    info.memory_bandwidth = 2.0 * clock_khz * 1e3 * bus_bits / 8.0;  // double data rate
  }
  cudaGetLastError();
  return info;
}

std::string describe(const DeviceInfo& info) {
  return fmt::format("{} (sm_{}{}, {} SMs, {:.0f} GiB, {:.0f} GB/s)", info.name, info.compute_major,
                     info.compute_minor, info.multiprocessors,
                     static_cast<double>(info.total_memory) / (1u << 30),
                     info.memory_bandwidth / 1e9);
}

}  // namespace chatterd::cuda
