#include "backends/cuda/nvml.h"

#include <dlfcn.h>

#include <string>

namespace chatterd::cuda {
namespace {

// NVML's C ABI, declared here because the toolkit on our build machines does not ship nvml.h.
// These entry points and structs have been stable since NVML 2.285 (the _v2 names since CUDA 5).
using NvmlReturn = int;  // nvmlReturn_t; 0 = NVML_SUCCESS
using NvmlDevice = struct NvmlDeviceOpaque*;
struct NvmlMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};

template <class Fn>
Fn symbol(void* lib, const char* name) {
  return reinterpret_cast<Fn>(dlsym(lib, name));
}

}  // namespace

struct Nvml::Api {
  void* lib = nullptr;
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  NvmlReturn (*handle)(unsigned, NvmlDevice*) = nullptr;
  NvmlReturn (*memory)(NvmlDevice, NvmlMemory*) = nullptr;
  NvmlReturn (*utilization)(NvmlDevice, NvmlUtilization*) = nullptr;
  const char* (*error_string)(NvmlReturn) = nullptr;
};

std::unique_ptr<Nvml> Nvml::open(std::string* reason) {
  auto fail = [&](std::string why) -> std::unique_ptr<Nvml> {
    if (reason != nullptr) *reason = std::move(why);
    return nullptr;
  };
  auto api = std::make_unique<Api>();
  api->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (api->lib == nullptr) {
    const char* err = dlerror();
    return fail(std::string("NVML not loaded: ") + (err != nullptr ? err : "dlopen failed"));
  }
  api->init = symbol<decltype(api->init)>(api->lib, "nvmlInit_v2");
  api->shutdown = symbol<decltype(api->shutdown)>(api->lib, "nvmlShutdown");
  api->handle = symbol<decltype(api->handle)>(api->lib, "nvmlDeviceGetHandleByIndex_v2");
  api->memory = symbol<decltype(api->memory)>(api->lib, "nvmlDeviceGetMemoryInfo");
  api->utilization = symbol<decltype(api->utilization)>(api->lib, "nvmlDeviceGetUtilizationRates");
  api->error_string = symbol<decltype(api->error_string)>(api->lib, "nvmlErrorString");
  if (api->init == nullptr || api->shutdown == nullptr || api->handle == nullptr ||
      api->memory == nullptr || api->utilization == nullptr) {
    dlclose(api->lib);
    return fail("NVML: libnvidia-ml.so.1 lacks an expected entry point");
  }
  const NvmlReturn status = api->init();
  if (status != 0) {
    const std::string why =
        api->error_string != nullptr ? api->error_string(status) : std::to_string(status);
    dlclose(api->lib);
    return fail("NVML init failed: " + why);
  }
  return std::unique_ptr<Nvml>(new Nvml(std::move(api)));
}

Nvml::Nvml(std::unique_ptr<Api> api) : api_(std::move(api)) {}

Nvml::~Nvml() {
  api_->shutdown();
  dlclose(api_->lib);
}

std::optional<GpuUsage> Nvml::usage(unsigned index) const {
  NvmlDevice device = nullptr;
  if (api_->handle(index, &device) != 0) return std::nullopt;
  NvmlMemory memory{};
  NvmlUtilization util{};
  if (api_->memory(device, &memory) != 0) return std::nullopt;
  GpuUsage u;
  u.memory_used = static_cast<std::size_t>(memory.used);
  u.memory_total = static_cast<std::size_t>(memory.total);
  if (api_->utilization(device, &util) == 0) {  // not every device (MIG slices) reports it
    u.gpu_percent = util.gpu;
    u.memory_percent = util.memory;
  }
  return u;
}

}  // namespace chatterd::cuda
