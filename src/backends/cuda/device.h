#pragma once
// Which CUDA devices this process can use. Safe everywhere: without a driver or a GPU,
// device_count() is 0 and nothing throws, so one binary serves CPU-only and GPU machines.

#include <cstddef>
#include <string>

namespace chatterd::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  int multiprocessors = 0;
  std::size_t total_memory = 0;  // bytes
  std::size_t l2_bytes = 0;
  // Peak DRAM bandwidth from the memory clock and bus width, bytes/s: the floor benchmarks
  // compare a decode step against.
  double memory_bandwidth = 0;
};

// Number of usable devices; 0 without a driver, without a GPU, or with CUDA_VISIBLE_DEVICES="".
int device_count() noexcept;
// Why there is no device (the runtime's message), or empty when there is one.
std::string no_device_reason();
// Throws InvalidArgument for an index outside [0, device_count()).
DeviceInfo device_info(int index);
std::string describe(const DeviceInfo& info);  // "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 80 GiB)"

}  // namespace chatterd::cuda
