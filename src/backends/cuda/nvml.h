#pragma once
// GPU memory and utilisation from NVML, loaded at run time (dlopen of libnvidia-ml.so.1, which
// ships with the driver), so binaries start where there is no driver and report nothing there.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace chatterd::cuda {

struct GpuUsage {
  std::size_t memory_used = 0;   // bytes, the whole device (every process)
  std::size_t memory_total = 0;  // bytes
  unsigned gpu_percent = 0;      // share of the last sample period a kernel ran
  unsigned memory_percent = 0;   // share of it device memory was read or written
};

class Nvml {
 public:
  // The loaded library, or null with `reason` saying why (no driver, no device, init failed).
  static std::unique_ptr<Nvml> open(std::string* reason);
  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  // Usage of device `index` (NVML's numbering), or nullopt when NVML cannot read it.
  std::optional<GpuUsage> usage(unsigned index) const;

 private:
  struct Api;
  explicit Nvml(std::unique_ptr<Api> api);
  std::unique_ptr<Api> api_;
};

}  // namespace chatterd::cuda
