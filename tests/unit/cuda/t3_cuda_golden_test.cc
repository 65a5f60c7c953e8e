// T3 Turbo (turbo-tiny fixture) on the CUDA device against the reference goldens: the prefill's
// last hidden state and logits, then the teacher-forced decode steps. The device runs the
// matrices in bf16, so the golden tolerance is the bf16 budget that the same model with bf16
// matrices meets on the CPU (measured by the first test, which needs no GPU); the device must
// also agree closely with that CPU bf16 model.

#include <gtest/gtest.h>

#include <filesystem>
#include <vector>

#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "fixture_dirs.h"
#include "models/t3/t3_cuda_decoder.h"
#include "models/t3/t3_model.h"
#include "ops/device.h"
#include "parity/parity.h"
#include "t3_golden_inputs.h"
#include "weights/safetensors.h"

namespace chatterd {
namespace {

// Errors are max abs difference over max abs reference, per tensor. turbo-tiny with bf16
// matrices on the CPU reaches the f32 goldens within 2.2e-3 .. 4.7e-3 (measured 2026-12-07, the
// first test prints them); the CPU check holds it to 6e-3.
constexpr double kCpuBf16GoldenTol = 6e-3;
// The device adds bf16 activations in cuBLASLt prefills (2^-9 relative per value) and f16
// keys/values (2^-11): twice the CPU budget, against the goldens and against the CPU bf16 model.
constexpr double kDeviceGoldenTol = 1e-2;
constexpr double kDeviceVsCpuTol = 1e-2;

// Row `step` of a golden [1, n, width] tensor, as [1, width].
Tensor golden_row(const Tensor& t, std::int64_t step) {
  return t.reshape({t.dim(1), t.dim(2)}).narrow0(step, 1);
}

TEST(T3Bf16Golden, CpuBf16MatricesStayWithinTheBudget) {
  const auto g = SafetensorsFile::open(test::kTurboTinyDir / "golden" / "t3_turbo.safetensors");
  const auto model = T3Model::load(test::kTurboTinyDir, DType::BF16);
  const test::T3GoldenInputs in = test::t3_golden_inputs(*g);
  const ExecContext ctx;
  T3State state = model->new_state(model->prefill_length(in.cond, std::ssize(in.text_ids)) +
                                   std::ssize(in.tf_tokens));
  Tensor embeds;
  model->prefill_embeds(ctx, in.cond, in.text_ids, state, embeds);
  model->forward(ctx, embeds, state);
  parity::ParityReport report("turbo-tiny bf16 (CPU)");
  report.compare("prefill/hidden_last", state.hidden, g->get("prefill/hidden_last"),
                 kCpuBf16GoldenTol);
  report.compare("prefill/logits_last", state.logits, g->get("prefill/logits_last"),
                 kCpuBf16GoldenTol);
  for (std::size_t step = 1; step < in.tf_tokens.size(); ++step) {
    Tensor e;
    model->embed_speech(ctx, std::span(&in.tf_tokens[step - 1], 1), state, e);
    model->forward(ctx, e, state);
    const auto s = static_cast<std::int64_t>(step);
    report.compare("tf/logits[" + std::to_string(step) + "]", state.logits,
                   golden_row(g->get("tf/logits"), s), kCpuBf16GoldenTol);
  }
  std::printf("%s\n", report.to_string().c_str());
  EXPECT_TRUE(report.passed()) << report.to_string();
}

TEST(T3CudaGolden, PrefillAndTeacherForcedDecode) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
  cuda::DeviceContext dc(0);
  ExecContext gpu;
  gpu.cuda = &dc;
  const ExecContext cpu;
  const auto g = SafetensorsFile::open(test::kTurboTinyDir / "golden" / "t3_turbo.safetensors");
  const auto model = T3Model::load(test::kTurboTinyDir, DType::BF16);
  const test::T3GoldenInputs in = test::t3_golden_inputs(*g);
  const std::int64_t capacity =
      model->prefill_length(in.cond, std::ssize(in.text_ids)) + std::ssize(in.tf_tokens);
  T3State host = model->new_state(capacity);
  const T3CudaDecoder decoder(gpu, *model);
  T3CudaDecoder::State dev = decoder.new_state(gpu, capacity);

  parity::ParityReport report("turbo-tiny on CUDA");
  Tensor embeds;
  model->prefill_embeds(cpu, in.cond, in.text_ids, host, embeds);
  decoder.forward(gpu, ops::to_device(gpu, embeds), dev);
  model->forward(cpu, embeds, host);
  report.compare("prefill/hidden_last", ops::to_host(gpu, dev.hidden),
                 g->get("prefill/hidden_last"), kDeviceGoldenTol);
  report.compare("prefill/logits_last", ops::to_host(gpu, dev.logits),
                 g->get("prefill/logits_last"), kDeviceGoldenTol);
  report.compare("prefill/logits_last vs CPU bf16", ops::to_host(gpu, dev.logits), host.logits,
                 kDeviceVsCpuTol);
  for (std::size_t step = 1; step < in.tf_tokens.size(); ++step) {
    Tensor e;
    model->embed_speech(cpu, std::span(&in.tf_tokens[step - 1], 1), host, e);
    decoder.forward(gpu, ops::to_device(gpu, e), dev);
    model->forward(cpu, e, host);
    const auto s = static_cast<std::int64_t>(step);
    const Tensor logits = ops::to_host(gpu, dev.logits);
    report.compare("tf/logits[" + std::to_string(step) + "]", logits,
                   golden_row(g->get("tf/logits"), s), kDeviceGoldenTol);
    report.compare("tf/logits[" + std::to_string(step) + "] vs CPU bf16", logits, host.logits,
                   kDeviceVsCpuTol);
  }
  std::printf("%s\n", report.to_string().c_str());
  EXPECT_TRUE(report.passed()) << report.to_string();
  EXPECT_EQ(dev.length(), host.length());
}

}  // namespace
}  // namespace chatterd
