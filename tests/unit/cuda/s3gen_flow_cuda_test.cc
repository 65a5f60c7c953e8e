// S3Gen's flow with the encoder, the CFM estimator and the solver on the device
// (S3GenFlow::use_device) against the reference goldens (turbo-tiny: meanflow, 2 steps;
// english-tiny: CFG, 10 steps), with f32 and bf16 matrices, and against the host flow; the
// encoder's mu on its own; a padded batch of two lengths against each item solved alone; host
// weights left intact. Skips without a GPU.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <tuple>

#include "backends/cuda/device.h"
#include "chatterd/core/error.h"
#include "cuda_test_util.h"
#include "models/model_dir.h"
#include "models/model_hparams.h"
#include "models/s3gen/s3gen_flow.h"
#include "models/synthetic_weights.h"
#include "models/variant.h"
#include "ops/layout.h"
#include "parity/parity.h"
#include "weights/weight_store.h"

namespace chatterd {
namespace {

// f32: cuBLASLt f32 GEMMs and the device attention sum in another order than the CPU; the same
// budget as the CPU's f32 parity (parity::kF32Tolerance, max error over max reference).
// bf16: the CPU's bf16 vocoder budget (parity::kBf16FlowTolerance); the device also rounds the
// activations entering each GEMM, as the CPU's bf16 tile does.
double tolerance(DType dtype) {
  return dtype == DType::F32 ? parity::kF32Tolerance : parity::kBf16FlowTolerance;
}

struct Fixture {
  std::unique_ptr<S3GenFlow> flow;
  S3GenPrompt prompt;
  Tensor speech, z, want_mel, want_mu;
  std::int64_t steps = 0;
};

Fixture load(const std::string& folder) {
  const auto dir = std::filesystem::path(CHATTERD_FIXTURES_DIR) / folder;
  const Variant variant = detect_variant(dir);
  const ModelHparams hp = load_hparams(dir, variant);
  const auto weights = WeightStore::open(*ModelDir::scan(dir, variant).find(ModelComponent::S3Gen));
  const auto g = WeightStore::open(dir / "golden" / "s3gen_flow.safetensors");
  Fixture f;
  f.flow = std::make_unique<S3GenFlow>(*weights, hp.s3gen);
  f.prompt.tokens = g->get_any("input.prompt_token");
  f.prompt.embedding = g->get_any("input.embedding");
  f.prompt.mel = g->get_any("input.prompt_feat");
  f.speech = g->get_any("input.speech_tokens");
  f.steps = g->get_any("input.n_cfm_timesteps").data<std::int64_t>()[0];
  f.z = g->get_any("rng.cfm_z");
  if (hp.s3gen.meanflow) f.z = compose_meanflow_noise(f.z, g->get_any("rng.noised_mels"));
  f.want_mel = g->get_any("output.mel");
  f.want_mu = g->get_any("flow.encoder_proj.out_mu");  // [1, T, mel]
  return f;
}

class S3GenFlowCuda : public ::testing::TestWithParam<std::tuple<std::string, DType>> {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
  }
};

TEST_P(S3GenFlowCuda, OutputMatchesTheGoldenAndTheHost) {
  const auto& [folder, dtype] = GetParam();
  Fixture f = load(folder);
  const ExecContext ctx;
  S3GenFlowOptions opt;
  opt.n_timesteps = f.steps;
  opt.noise = &f.z;
  const Tensor host_mel = f.flow->infer(ctx, f.speech, f.prompt, nullptr, opt);
  f.flow->use_device(0, dtype);
  EXPECT_FALSE(f.flow->device_description().empty());
  const Tensor mel = f.flow->infer(ctx, f.speech, f.prompt, nullptr, opt);
  // The encoder on the device on its own: mu against the golden (NCT here, NTC there).
  const FlowEncoding enc = f.flow->encode(ctx, f.speech, f.prompt);
  {  // A streaming window (finalize false: the look-ahead frames trimmed on the device).
    const FlowTap no_op = [](std::string_view, const Tensor&) {};
    const FlowEncoding host = f.flow->encode(ctx, f.speech, f.prompt, false, &no_op);
    const FlowEncoding dev = f.flow->encode(ctx, f.speech, f.prompt, false);
    EXPECT_LT(test::relative_max(dev.mu, host.mu), tolerance(dtype)) << folder << " window";
  }
  Tensor mu_ntc;
  ops::transpose(ctx, enc.mu, 1, 2, mu_ntc);
  const double mu_err = test::relative_max(mu_ntc, f.want_mu);
  EXPECT_LT(mu_err, tolerance(dtype)) << folder << " encoder";
  std::printf("%s %s: encoder mu vs golden %.3e\n", folder.c_str(),
              std::string(dtype_name(dtype)).c_str(), mu_err);
  const double golden = test::relative_max(mel, f.want_mel);
  const double vs_host = test::relative_max(mel, host_mel);
  EXPECT_LT(golden, tolerance(dtype)) << folder;
  EXPECT_LT(vs_host, tolerance(dtype)) << folder;
  // The host estimator (taps, parity) is untouched by the upload: a tapped solve stays on the
  // host and reproduces the first run exactly.
  const FlowTap no_op = [](std::string_view, const Tensor&) {};
  opt.tap = &no_op;
  const Tensor host_again = f.flow->infer(ctx, f.speech, f.prompt, nullptr, opt);
  EXPECT_EQ(test::relative_max(host_again, host_mel), 0.0) << folder;
  std::printf("%s %s: device vs golden %.3e, vs host %.3e\n", folder.c_str(),
              std::string(dtype_name(dtype)).c_str(), golden, vs_host);
}

TEST_P(S3GenFlowCuda, APaddedBatchSolvesEachItemAsAlone) {
  const auto& [folder, dtype] = GetParam();
  Fixture f = load(folder);
  const ExecContext ctx;
  f.flow->use_device(0, dtype);
  EXPECT_EQ(f.flow->device_busy().calls, 0);
  const auto t0 = std::chrono::steady_clock::now();
  // Two encodings of different lengths (the second drops speech tokens).
  const std::int64_t n = f.speech.numel();
  ASSERT_GE(n, 8);
  const Tensor short_speech = f.speech.reshape({n}).narrow0(0, n - 4).clone();
  const FlowEncoding a = f.flow->encode(ctx, f.speech, f.prompt);
  const FlowEncoding b = f.flow->encode(ctx, short_speech, f.prompt);
  std::mt19937 rng(3);
  const Tensor za = test::random_uniform(a.mu.shape(), rng, 1.0f);
  const Tensor zb = test::random_uniform(b.mu.shape(), rng, 1.0f);
  const FlowEncoding* encs[] = {&a, &b};
  const Tensor* zs[] = {&za, &zb};
  const auto batch = f.flow->solve_batch(ctx, encs, zs, f.steps);
  ASSERT_EQ(batch.size(), 2U);
  const Tensor alone_a = f.flow->solve(ctx, a, za, f.steps);
  const Tensor alone_b = f.flow->solve(ctx, b, zb, f.steps);
  // Only summation order may differ (cuBLASLt may pick another algorithm for more rows), which
  // with bf16 can tip a rounded activation, amplified over the steps: the dtype's budget. A
  // padding or masking bug would move whole frames.
  EXPECT_LT(test::relative_max(batch[0], alone_a), tolerance(dtype));
  EXPECT_LT(test::relative_max(batch[1], alone_b), tolerance(dtype));
  // Each device call was timed with events (2 encodes, 1 batch, 2 solves): GPU time that fits in
  // the wall time they took.
  const double wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const ops::DeviceBusy busy = f.flow->device_busy();
  EXPECT_GE(busy.calls, 5);
  EXPECT_GT(busy.device_ms, 0.0);
  EXPECT_LT(busy.device_ms, wall_ms);
}

// Weights the store owns (synthetic, .pt, f16 checkpoints) rather than maps: the upload converts
// copies, never the host model's tensors.
TEST_P(S3GenFlowCuda, UploadLeavesOwnedHostWeightsIntact) {
  const auto& [folder, dtype] = GetParam();
  Fixture f = load(folder);
  const S3GenConfig config = f.flow->config();
  const auto owned = make_synthetic_weights(s3gen_flow_tensor_specs(config), 9, "synthetic");
  S3GenFlow flow(*owned, config);
  const ExecContext ctx;
  const FlowTap no_op = [](std::string_view, const Tensor&) {};
  S3GenFlowOptions opt;
  opt.n_timesteps = f.steps;
  opt.noise = &f.z;
  opt.tap = &no_op;  // the host path
  const Tensor before = flow.infer(ctx, f.speech, f.prompt, nullptr, opt);
  flow.use_device(0, dtype);
  const Tensor after = flow.infer(ctx, f.speech, f.prompt, nullptr, opt);
  EXPECT_EQ(test::relative_max(after, before), 0.0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, S3GenFlowCuda,
                         ::testing::Combine(::testing::Values("turbo-tiny", "english-tiny"),
                                            ::testing::Values(DType::F32, DType::BF16)),
                         [](const auto& param_info) {
                           return test::fixture_dtype_name(param_info);
                         });

// Without a device (or CUDA build) use_device refuses with the reason and the flow stays usable
// on the host.
TEST(S3GenFlowDevice, RefusedWithoutADevice) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a device is present";
  Fixture f = load("turbo-tiny");
  EXPECT_THROW(f.flow->use_device(0, DType::BF16), Unsupported);
  EXPECT_TRUE(f.flow->device_description().empty());
  const ExecContext ctx;
  S3GenFlowOptions opt;
  opt.n_timesteps = f.steps;
  opt.noise = &f.z;
  const Tensor mel = f.flow->infer(ctx, f.speech, f.prompt, nullptr, opt);
  EXPECT_LT(test::relative_max(mel, f.want_mel), parity::kF32Tolerance);
}

}  // namespace
}  // namespace chatterd
