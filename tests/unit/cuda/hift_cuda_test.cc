// HiFT with its convolution stack on the device (Hift::use_device) against the reference goldens
// of turbo-tiny and english-tiny: the decoder from the golden excitation (so the f0 predictor and
// SineGen, on the host either way, do not enter), f32 and bf16 matrices, and against the host.
// Skips without a GPU.

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <tuple>

#include "backends/cuda/device.h"
#include "chatterd/core/error.h"
#include "cuda_test_util.h"
#include "models/hift/hift.h"
#include "models/hift/hift_load.h"
#include "parity/parity.h"
#include "weights/weight_store.h"

namespace chatterd {
namespace {

// The CPU parity budgets of the same comparison (decoder from the golden source): f32
// parity::kF32Tolerance, bf16 parity::kBf16HiftTolerance.
double tolerance(DType dtype) {
  return dtype == DType::F32 ? parity::kF32Tolerance : parity::kBf16HiftTolerance;
}

class HiftCuda : public ::testing::TestWithParam<std::tuple<std::string, DType>> {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
  }
};

TEST_P(HiftCuda, DecoderMatchesTheGoldenAndTheHost) {
  const auto& [folder, dtype] = GetParam();
  const auto dir = std::filesystem::path(CHATTERD_FIXTURES_DIR) / folder;
  const auto g = WeightStore::open(dir / "golden" / "s3gen_hift.safetensors");
  const auto model = hift::load_hift(dir);
  const ExecContext ctx;
  const Tensor mel = g->get_any("hift.in.speech_feat");
  const Tensor source = g->get_any("output.sources");
  Tensor host_wav;
  model->decode(ctx, mel, source, host_wav);
  model->use_device(0, dtype);
  EXPECT_FALSE(model->device_description().empty());
  Tensor wav;
  model->decode(ctx, mel, source, wav);
  // The device call was timed with events.
  const ops::DeviceBusy busy = model->device_busy();
  EXPECT_GE(busy.calls, 1);
  EXPECT_GT(busy.device_ms, 0.0);
  Tensor faded = wav.clone();
  hift::apply_trim_fade(faded);
  const double golden = test::relative_max(faded, g->get_any("output.wav"));
  const double vs_host = test::relative_max(wav, host_wav);
  EXPECT_LT(golden, tolerance(dtype)) << folder;
  EXPECT_LT(vs_host, tolerance(dtype)) << folder;
  std::printf("%s %s: device vs golden %.3e, vs host %.3e\n", folder.c_str(),
              std::string(dtype_name(dtype)).c_str(), golden, vs_host);
  // A traced call stays on the host (traces read host tensors) and still matches.
  hift::HiftTrace trace;
  Tensor traced;
  model->decode(ctx, mel, source, traced, &trace);
  EXPECT_LT(test::relative_max(traced, host_wav), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, HiftCuda,
                         ::testing::Combine(::testing::Values("turbo-tiny", "english-tiny"),
                                            ::testing::Values(DType::F32, DType::BF16)),
                         [](const auto& param_info) {
                           return test::fixture_dtype_name(param_info);
                         });

TEST(HiftDevice, RefusedWithoutADevice) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a device is present";
  const auto model = hift::load_hift(std::filesystem::path(CHATTERD_FIXTURES_DIR) / "turbo-tiny");
  EXPECT_THROW(model->use_device(0, DType::BF16), Unsupported);
  EXPECT_TRUE(model->device_description().empty());
}

}  // namespace
}  // namespace chatterd
