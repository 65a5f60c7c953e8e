// The batched T3 Llama decode step on CUDA (English/Multilingual: every stream's CFG pair in two
// adjacent fixed KV slots, device-held lengths as RoPE positions, one launch sequence for every
// row) against the CPU model stream by stream: five prefills of different lengths, then
// teacher-forced steps, eagerly and replayed as a CUDA graph. A stream's logits depend on how
// many rows run with it (up to 8 rows the GEMV keeps f32 activations, beyond that cuBLASLt rounds
// them to bf16), within the same budget. Skips without a GPU.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "backends/cuda/graph.h"
#include "backends/cuda/kv_slots.h"
#include "cuda_test_util.h"
#include "fixture_dirs.h"
#include "models/t3/t3_cuda_llama_decoder.h"
#include "models/t3/t3_model.h"
#include "ops/device.h"
#include "t3_golden_inputs.h"
#include "weights/safetensors.h"

namespace chatterd {
namespace {

// bf16 matrices on both sides; the device adds f16 keys/values and bf16 activations in its
// prefill GEMMs: the T3 Llama device budget (t3_cuda_llama_golden_test.cc).
constexpr double kLlamaBatchDeviceVsCpuTol = 1.5e-2;

TEST(T3CudaLlamaBatch, CfgPairStepsMatchTheCpuStreamByStreamEagerAndAsAGraph) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
  cuda::DeviceContext dc(0);
  ExecContext gpu;
  gpu.cuda = &dc;
  const ExecContext cpu;
  const auto g = SafetensorsFile::open(test::kEnglishTinyDir / "golden" / "t3_english.safetensors");
  const auto model = T3Model::load(test::kEnglishTinyDir, DType::BF16);
  const T3Config& cfg = model->config();
  const std::int64_t vocab = cfg.speech_vocab_size;
  const std::int64_t d = cfg.hidden_size;
  const test::T3GoldenInputs in = test::t3_golden_inputs(*g);
  T3Cond cond = in.cond;
  cond.emotion_adv = g->get("inputs/emotion_adv").data<float>()[0];

  // Five streams (ten rows: past the 8-row GEMV, so the step's projections take the cuBLASLt
  // path): the golden's text and shorter ones (different prefill lengths).
  std::vector<std::vector<std::int64_t>> texts;
  for (std::ptrdiff_t drop = 0; drop < 5; ++drop) {
    std::vector<std::int64_t> text = in.text_ids;
    const std::ptrdiff_t n = std::min<std::ptrdiff_t>(drop, std::ssize(text) - 2);
    text.erase(text.begin() + 1, text.begin() + 1 + n);
    texts.push_back(std::move(text));
  }
  const auto streams = static_cast<std::int64_t>(texts.size());
  const std::int64_t rows = 2 * streams;  // the CFG pair of each stream
  const std::int64_t steps = std::min<std::int64_t>(8, model->max_fed_speech_tokens());
  ASSERT_GE(steps, 4);
  std::int64_t capacity = 0;
  for (const auto& text : texts) {
    capacity = std::max(capacity, model->prefill_length(cond, std::ssize(text)) + steps + 1);
  }
  const T3CudaLlamaDecoder decoder(gpu, *model, capacity);
  cuda::KvSlots slots(dc, cfg.num_layers, rows, capacity, cfg.num_kv_heads, cfg.head_dim);

  std::vector<T3State> host;
  for (std::int64_t b = 0; b < streams; ++b) {
    const auto& text = texts[static_cast<std::size_t>(b)];
    host.push_back(model->new_state(model->prefill_length(cond, std::ssize(text)) + steps + 1, 2));
    Tensor embeds;
    model->prefill_embeds(cpu, cond, text, host.back(), embeds);
    model->forward(cpu, embeds, host.back());
    const Tensor logits =
        ops::to_host(gpu, decoder.prefill_slots(gpu, slots, 2 * b, ops::to_device(gpu, embeds)));
    EXPECT_LT(test::relative_max(logits, host.back().logits), kLlamaBatchDeviceVsCpuTol)
        << "prefill of stream " << b;
    EXPECT_EQ(slots.length(2 * b), host.back().length());
    EXPECT_EQ(slots.length(2 * b + 1), host.back().length());
  }

  T3CudaLlamaDecoder::StepScratch scratch;
  Tensor step_embeds = dc.empty(Shape{rows, d}, DType::F32);  // the graph's fixed input buffer
  cuda::Graph graph;
  for (std::int64_t step = 0; step < steps; ++step) {
    // Teacher-forced tokens (the golden's, a different one per stream), embedded on the host as
    // the engine does, both rows of a pair alike.
    Tensor host_embeds = Tensor::empty(Shape{rows, d}, DType::F32);
    for (std::int64_t b = 0; b < streams; ++b) {
      const std::int64_t tok =
          in.tf_tokens[static_cast<std::size_t>((step + b) % std::ssize(in.tf_tokens))];
      T3State& st = host[static_cast<std::size_t>(b)];
      Tensor e;
      model->decode_embeds(cpu, tok, step, st, e);  // [2, 1, d]
      std::copy_n(e.data<float>(), 2 * d, host_embeds.data<float>() + 2 * b * d);
      model->forward(cpu, e, st);
    }
    dc.upload(host_embeds.raw_data(), host_embeds.nbytes(), step_embeds.raw_data());
    const bool replay = step >= steps / 2;
    if (replay && !graph.ready()) {
      dc.capture(graph, [&] { decoder.step(gpu, slots, rows, step_embeds, scratch); });
    }
    if (replay) {
      slots.check_room(rows);
      graph.launch(dc.stream());
    } else {
      decoder.step(gpu, slots, rows, step_embeds, scratch);
    }
    slots.note_advanced(rows);
    const Tensor logits = ops::to_host(gpu, scratch.logits);
    for (std::int64_t b = 0; b < streams; ++b) {
      const T3State& st = host[static_cast<std::size_t>(b)];
      EXPECT_LT(test::relative_max(logits.narrow0(2 * b, 2), st.logits), kLlamaBatchDeviceVsCpuTol)
          << "step " << step << " stream " << b << (replay ? " (graph)" : "");
      EXPECT_EQ(slots.length(2 * b), st.length()) << "step " << step << " stream " << b;
      EXPECT_EQ(slots.length(2 * b + 1), st.length()) << "step " << step << " stream " << b;
    }
  }
  EXPECT_EQ(scratch.logits.dim(1), vocab);
}

}  // namespace
}  // namespace chatterd
