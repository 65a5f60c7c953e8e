// The CUDA runtime layer: device discovery, contexts, transfers. Tests needing a GPU skip with
// the runtime's reason when none is visible; the rest run everywhere the backend is built.

#include <gtest/gtest.h>

#include <cstring>

#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "backends/cuda/nvml.h"
#include "chatterd/core/error.h"
#include "chatterd/core/half.h"

namespace chatterd::cuda {
namespace {

TEST(CudaRuntime, DeviceCountNeverThrows) {
  const int n = device_count();
  EXPECT_GE(n, 0);
  if (n == 0) {
    EXPECT_FALSE(no_device_reason().empty());
  } else {
    EXPECT_TRUE(no_device_reason().empty());
  }
}

TEST(CudaRuntime, ContextWithoutADeviceIsUnsupportedWithTheReason) {
  if (device_count() > 0) GTEST_SKIP() << "a GPU is visible: this checks hosts without one";
  try {
    DeviceContext dc(0);
    FAIL() << "expected Unsupported";
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA: no device"), std::string::npos) << e.what();
  }
}

TEST(CudaRuntime, BadDeviceIndexIsInvalidArgument) {
  EXPECT_THROW(device_info(-1), InvalidArgument);
  EXPECT_THROW(device_info(device_count()), InvalidArgument);
}

TEST(CudaRuntime, NvmlOpensOrSaysWhy) {
  std::string reason;
  const auto nvml = cuda::Nvml::open(&reason);
  if (nvml == nullptr) {
    EXPECT_FALSE(reason.empty());
    EXPECT_NE(reason.find("NVML"), std::string::npos) << reason;
    if (device_count() > 0) ADD_FAILURE() << "a GPU is visible but NVML is not: " << reason;
    return;
  }
  const auto usage = nvml->usage(0);
  ASSERT_TRUE(usage.has_value());
  EXPECT_GT(usage->memory_total, std::size_t{1} << 30);
  EXPECT_LE(usage->memory_used, usage->memory_total);
  EXPECT_LE(usage->gpu_percent, 100u);
  EXPECT_FALSE(nvml->usage(4096).has_value());  // no such device
}

class CudaDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    if (device_count() == 0) GTEST_SKIP() << "no CUDA device: " << no_device_reason();
  }
};

TEST_F(CudaDevice, InfoIsPlausible) {
  const DeviceInfo info = device_info(0);
  EXPECT_FALSE(info.name.empty());
  EXPECT_GE(info.compute_major, 7);
  EXPECT_GT(info.multiprocessors, 0);
  EXPECT_GT(info.total_memory, std::size_t{1} << 30);
  EXPECT_GT(info.memory_bandwidth, 1e11);
  std::printf("device: %s\n", describe(info).c_str());
}

TEST_F(CudaDevice, RoundTripKeepsEveryByteOfEveryDtype) {
  DeviceContext dc(0);
  for (const DType dt : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::Bool}) {
    Tensor host = Tensor::empty({3, 37}, dt);
    auto* bytes = static_cast<unsigned char*>(host.raw_data());
    for (std::size_t i = 0; i < host.nbytes(); ++i) {
      bytes[i] = static_cast<unsigned char>((i * 131 + 7) & (dt == DType::Bool ? 1 : 0xff));
    }
    const Tensor dev = dc.to_device(host);
    EXPECT_EQ(dev.device(), Device::CUDA);
    EXPECT_EQ(dev.shape(), host.shape());
    const Tensor back = dc.to_host(dev);
    EXPECT_EQ(back.device(), Device::CPU);
    EXPECT_EQ(std::memcmp(back.raw_data(), host.raw_data(), host.nbytes()), 0) << dtype_name(dt);
  }
}

TEST_F(CudaDevice, SteadyStateAllocatesNothingNew) {
  DeviceContext dc(0);
  const Tensor host = Tensor::zeros({64, 1024}, DType::F32);
  for (int i = 0; i < 3; ++i) {
    const Tensor dev = dc.to_device(host);
    Tensor out;
    dc.ensure(out, dev.shape(), DType::F32);
    dc.copy(dev, out);
  }
  const auto before = dc.device_memory().stats().raw_allocations;
  for (int i = 0; i < 20; ++i) {
    const Tensor dev = dc.to_device(host);
    Tensor out;
    dc.ensure(out, dev.shape(), DType::F32);
    dc.copy(dev, out);
    dc.synchronize();
  }
  EXPECT_EQ(dc.device_memory().stats().raw_allocations, before);
}

TEST_F(CudaDevice, HostTensorsAreRefusedWhereDeviceOnesAreExpected) {
  DeviceContext dc(0);
  const Tensor host = Tensor::zeros({4}, DType::F32);
  EXPECT_THROW(dc.to_host(host), InvalidArgument);
  const Tensor dev = dc.to_device(host);
  EXPECT_THROW(dc.to_device(dev), InvalidArgument);
  EXPECT_THROW(dev.data<float>(), Unsupported);  // no host access to device memory
}

}  // namespace
}  // namespace chatterd::cuda
