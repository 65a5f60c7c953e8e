// What ops do with CUDA tensors when they cannot run them: a clear error naming the op, before
// any memory is touched (the "device" pointer below is not dereferenceable). Runs without a GPU.

#include <gtest/gtest.h>

#include "chatterd/core/error.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/linear.h"
#include "ops/norm.h"

namespace chatterd {
namespace {

Tensor fake_device_tensor(const Shape& shape) {
  static float sentinel[1];  // never read: every path must fail before
  return Tensor::borrow(sentinel, shape, DType::F32, {}, Device::CUDA);
}

template <class Fn>
void expect_refused(Fn&& fn, const std::string& op) {
  try {
    fn();
    FAIL() << op << ": expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(op), std::string::npos) << e.what();
#ifdef CHATTERD_HAVE_CUDA
    // Built with CUDA: the caller forgot the device context.
    EXPECT_NE(dynamic_cast<const InvalidArgument*>(&e), nullptr) << e.what();
    EXPECT_NE(std::string(e.what()).find("CUDA device context"), std::string::npos) << e.what();
#else
    EXPECT_NE(dynamic_cast<const Unsupported*>(&e), nullptr) << e.what();
    EXPECT_NE(std::string(e.what()).find("no CUDA backend"), std::string::npos) << e.what();
#endif
  }
}

TEST(CudaDispatch, OpsRefuseCudaTensorsWithoutADeviceContext) {
  const ExecContext ctx;  // no CUDA context
  const Tensor x = fake_device_tensor({2, 8});
  const Tensor w = fake_device_tensor({4, 8});
  Tensor out;
  expect_refused([&] { ops::layer_norm(ctx, x, nullptr, nullptr, out, 1e-5f); }, "layer_norm");
  expect_refused([&] { ops::gelu(ctx, x, out); }, "gelu");
  expect_refused([&] { ops::linear(ctx, x, w, nullptr, out); }, "linear");
  const Tensor q = fake_device_tensor({1, 2, 4});
  expect_refused([&] { ops::attention(ctx, q, q, q, {}, out); }, "attention");
  EXPECT_FALSE(out.defined() && out.device() == Device::CPU && out.numel() > 0);
}

// A host op given a device operand or output must refuse before touching the memory (the fake
// pointer would crash or be corrupted otherwise).
TEST(CudaDispatch, HostOpsRefuseDeviceOperandsAndOutputs) {
  const ExecContext ctx;
  const Tensor x = Tensor::zeros({2, 8}, DType::F32);
  const Tensor w = fake_device_tensor({4, 8});
  Tensor out;
  EXPECT_THROW(ops::linear(ctx, x, w, nullptr, out), InvalidArgument);
  const Tensor q = Tensor::zeros({1, 2, 4}, DType::F32);
  const Tensor k = fake_device_tensor({3, 2, 4});
  EXPECT_THROW(ops::attention(ctx, q, k, k, {}, out), InvalidArgument);
  Tensor device_out = fake_device_tensor({2, 8});
  EXPECT_THROW(ops::gelu(ctx, x, device_out), Unsupported);
  EXPECT_THROW(ops::layer_norm(ctx, x, nullptr, nullptr, device_out, 1e-5f), Unsupported);
}

#ifdef CHATTERD_HAVE_CUDA
TEST(CudaDispatch, MixedDevicesAreRefusedByName) {
  const ExecContext ctx;
  const Tensor x = fake_device_tensor({2, 8});
  const Tensor host_w = Tensor::zeros({4, 8}, DType::F32);
  Tensor out;
  try {
    ops::linear(ctx, x, host_w, nullptr, out);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("different devices"), std::string::npos) << e.what();
  }
}
#endif

}  // namespace
}  // namespace chatterd
