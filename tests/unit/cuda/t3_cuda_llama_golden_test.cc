// T3 English and Multilingual (Llama backbone, the CFG pair) on the CUDA device against the
// reference goldens: the prefill's last hidden states and logits of both rows, then the
// teacher-forced decode steps. The device holds bf16 matrices, so the golden tolerance is the bf16
// budget the same model with bf16 matrices meets on the CPU (the first test, which needs no GPU,
// holds the CPU to it), doubled for the device's bf16 activations in cuBLASLt prefills and f16
// keys/values; the device must also agree closely with that CPU bf16 model.

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "models/t3/t3_cuda_llama_decoder.h"
#include "models/t3/t3_model.h"
#include "ops/device.h"
#include "parity/parity.h"
#include "t3_golden_inputs.h"
#include "weights/safetensors.h"

namespace chatterd {
namespace {

// Max abs difference over max abs reference, per tensor. The CPU with bf16 matrices reaches the
// f32 goldens within 2.9e-3 .. 4.4e-3 on english-tiny and 2.9e-3 .. 5.7e-3 on multilingual-tiny
// (measured 2026-12-07 on AVX-512; the first test prints them): the budget is 1.3x the worst, as
// Turbo's (6e-3 for 4.7e-3), and the device gets twice it.
constexpr double kLlamaCpuBf16GoldenTol = 7.5e-3;
constexpr double kLlamaDeviceGoldenTol = 1.5e-2;
constexpr double kLlamaDeviceVsCpuTol = 1.5e-2;

struct LlamaGoldenCase {
  const char* dir;
  const char* golden;
};

std::filesystem::path fixture(const char* dir) {
  return std::filesystem::path(CHATTERD_FIXTURES_DIR) / dir;
}

// Rows [b, step, :] of a golden [batch, n, width] tensor, as [batch, width].
Tensor golden_step(const Tensor& t, std::int64_t step) {
  const std::int64_t batch = t.dim(0), n = t.dim(1), w = t.dim(2);
  Tensor out = Tensor::empty({batch, w}, DType::F32);
  for (std::int64_t b = 0; b < batch; ++b) {
    std::copy_n(t.data<float>() + (b * n + step) * w, w, out.data<float>() + b * w);
  }
  return out;
}

T3Cond cond_of(const SafetensorsFile& g) {
  T3Cond cond = test::t3_golden_inputs(g).cond;
  cond.emotion_adv = g.get("inputs/emotion_adv").data<float>()[0];
  return cond;
}

class T3LlamaBf16 : public ::testing::TestWithParam<LlamaGoldenCase> {};

TEST_P(T3LlamaBf16, CpuBf16MatricesStayWithinTheBudget) {
  const LlamaGoldenCase c = GetParam();
  const auto g = SafetensorsFile::open(fixture(c.dir) / "golden" / c.golden);
  const auto model = T3Model::load(fixture(c.dir), DType::BF16);
  const test::T3GoldenInputs in = test::t3_golden_inputs(*g);
  const T3Cond cond = cond_of(*g);
  const ExecContext ctx;
  const std::int64_t batch = g->get("embeds/prefill_inputs_embeds").dim(0);
  T3State state = model->new_state(
      model->prefill_length(cond, std::ssize(in.text_ids)) + std::ssize(in.tf_tokens), batch);
  Tensor embeds;
  model->prefill_embeds(ctx, cond, in.text_ids, state, embeds);
  model->forward(ctx, embeds, state);
  parity::ParityReport report(std::string(c.dir) + " bf16 (CPU)");
  report.compare("prefill/hidden_last", state.hidden, g->get("prefill/hidden_last"),
                 kLlamaCpuBf16GoldenTol);
  report.compare("prefill/logits_last", state.logits, g->get("prefill/logits_last"),
                 kLlamaCpuBf16GoldenTol);
  for (std::size_t step = 1; step < in.tf_tokens.size(); ++step) {
    const auto s = static_cast<std::int64_t>(step);
    Tensor e;
    model->decode_embeds(ctx, in.tf_tokens[step - 1], s - 1, state, e);
    model->forward(ctx, e, state);
    report.compare("tf/logits[" + std::to_string(step) + "]", state.logits,
                   golden_step(g->get("tf/logits"), s), kLlamaCpuBf16GoldenTol);
  }
  std::printf("%s\n", report.to_string().c_str());
  EXPECT_TRUE(report.passed()) << report.to_string();
}

TEST_P(T3LlamaBf16, DevicePrefillAndTeacherForcedDecode) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
  const LlamaGoldenCase c = GetParam();
  cuda::DeviceContext dc(0);
  ExecContext gpu;
  gpu.cuda = &dc;
  const ExecContext cpu;
  const auto g = SafetensorsFile::open(fixture(c.dir) / "golden" / c.golden);
  const auto model = T3Model::load(fixture(c.dir), DType::BF16);
  const test::T3GoldenInputs in = test::t3_golden_inputs(*g);
  const T3Cond cond = cond_of(*g);
  const std::int64_t batch = g->get("embeds/prefill_inputs_embeds").dim(0);
  const std::int64_t capacity =
      model->prefill_length(cond, std::ssize(in.text_ids)) + std::ssize(in.tf_tokens);
  T3State host = model->new_state(capacity, batch);
  const T3CudaLlamaDecoder decoder(gpu, *model);
  T3CudaLlamaDecoder::State dev = decoder.new_state(gpu, batch, capacity);

  parity::ParityReport report(std::string(c.dir) + " on CUDA");
  Tensor embeds;
  model->prefill_embeds(cpu, cond, in.text_ids, host, embeds);
  decoder.forward(gpu, ops::to_device(gpu, embeds), dev);
  model->forward(cpu, embeds, host);
  report.compare("prefill/hidden_last", ops::to_host(gpu, dev.hidden),
                 g->get("prefill/hidden_last"), kLlamaDeviceGoldenTol);
  report.compare("prefill/logits_last", ops::to_host(gpu, dev.logits),
                 g->get("prefill/logits_last"), kLlamaDeviceGoldenTol);
  report.compare("prefill/logits_last vs CPU bf16", ops::to_host(gpu, dev.logits), host.logits,
                 kLlamaDeviceVsCpuTol);
  for (std::size_t step = 1; step < in.tf_tokens.size(); ++step) {
    const auto s = static_cast<std::int64_t>(step);
    Tensor e;
    model->decode_embeds(cpu, in.tf_tokens[step - 1], s - 1, host, e);
    decoder.forward(gpu, ops::to_device(gpu, e), dev);
    model->forward(cpu, e, host);
    const Tensor logits = ops::to_host(gpu, dev.logits);
    report.compare("tf/logits[" + std::to_string(step) + "]", logits,
                   golden_step(g->get("tf/logits"), s), kLlamaDeviceGoldenTol);
    report.compare("tf/logits[" + std::to_string(step) + "] vs CPU bf16", logits, host.logits,
                   kLlamaDeviceVsCpuTol);
  }
  std::printf("%s\n", report.to_string().c_str());
  EXPECT_TRUE(report.passed()) << report.to_string();
  EXPECT_EQ(dev.length(), host.length());
}

INSTANTIATE_TEST_SUITE_P(
    Variants, T3LlamaBf16,
    ::testing::Values(LlamaGoldenCase{"english-tiny", "t3_english.safetensors"},
                      LlamaGoldenCase{"multilingual-tiny", "t3_mtl.safetensors"}),
    [](const auto& param_info) {
      std::string name = param_info.param.dir;
      for (char& ch : name) {
        if (ch == '-') ch = '_';
      }
      return name;
    });

}  // namespace
}  // namespace chatterd
