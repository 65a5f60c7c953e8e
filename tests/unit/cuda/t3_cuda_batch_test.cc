// The batched T3 decode step on CUDA (fixed KV slots, device-held lengths, one launch sequence
// for every stream) against the CPU model run stream by stream: turbo-tiny, three streams with
// different prefill lengths, teacher-forced by the CPU's greedy tokens, op by op and then replayed
// as a CUDA graph. Skips without a GPU.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "backends/cuda/graph.h"
#include "backends/cuda/kv_slots.h"
#include "cuda_test_util.h"
#include "fixture_dirs.h"
#include "models/t3/t3_cuda_decoder.h"
#include "models/t3/t3_model.h"
#include "ops/device.h"
#include "t3_golden_inputs.h"
#include "weights/safetensors.h"

namespace chatterd {
namespace {

// As t3_cuda_golden_test: the same bf16 matrices on both sides; the device adds f16 keys/values
// and bf16 activations in cuBLASLt prefills.
constexpr double kBatchDeviceVsCpuTol = 1e-2;

std::int64_t argmax(const float* row, std::int64_t n) {
  std::int64_t best = 0;
  for (std::int64_t i = 1; i < n; ++i) best = row[i] > row[best] ? i : best;
  return best;
}

TEST(T3CudaBatch, StepsMatchTheCpuStreamByStreamEagerAndAsAGraph) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
  cuda::DeviceContext dc(0);
  ExecContext gpu;
  gpu.cuda = &dc;
  const ExecContext cpu;
  const auto g = SafetensorsFile::open(test::kTurboTinyDir / "golden" / "t3_turbo.safetensors");
  const auto model = T3Model::load(test::kTurboTinyDir, DType::BF16);
  const T3Config& cfg = model->config();
  const std::int64_t vocab = cfg.speech_vocab_size;
  const T3CudaDecoder decoder(gpu, *model);

  const T3Cond cond = test::t3_golden_inputs(*g).cond;
  // Three streams: text of 3, 7 and 12 tokens (different prefill lengths).
  const std::vector<std::vector<std::int64_t>> texts = {
      {cfg.start_text_token, 5, cfg.stop_text_token},
      {cfg.start_text_token, 9, 4, 17, 3, 11, cfg.stop_text_token},
      {cfg.start_text_token, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, cfg.stop_text_token}};
  const auto batch = static_cast<std::int64_t>(texts.size());
  const std::int64_t steps = 12;
  std::int64_t capacity = 0;  // the longest prefill (cond + text + BOS) plus every step
  for (const auto& text : texts) {
    capacity = std::max(capacity, model->prefill_length(cond, std::ssize(text)) + steps + 1);
  }

  cuda::KvSlots slots(dc, cfg.num_layers, batch, capacity, cfg.num_heads, cfg.head_dim);
  std::vector<T3State> host;
  std::vector<std::int64_t> next(static_cast<std::size_t>(batch));
  for (std::int64_t b = 0; b < batch; ++b) {
    const auto& text = texts[static_cast<std::size_t>(b)];
    host.push_back(model->new_state(model->prefill_length(cond, std::ssize(text)) + steps + 1));
    Tensor embeds;
    model->prefill_embeds(cpu, cond, text, host.back(), embeds);
    model->forward(cpu, embeds, host.back());
    const Tensor logits =
        ops::to_host(gpu, decoder.prefill_slot(gpu, slots, b, ops::to_device(gpu, embeds)));
    EXPECT_LT(test::relative_max(logits, host.back().logits), kBatchDeviceVsCpuTol)
        << "prefill of stream " << b;
    EXPECT_EQ(slots.length(b), host.back().length());
    next[static_cast<std::size_t>(b)] = argmax(host.back().logits.data<float>(), vocab);
  }

  T3CudaDecoder::StepScratch scratch;
  Tensor ids = dc.empty(Shape{batch}, DType::I32);
  Tensor device_argmax;
  cuda::Graph graph;
  int argmax_agree = 0;
  for (std::int64_t step = 0; step < steps; ++step) {
    // Both sides are fed the CPU's greedy tokens.
    Tensor host_ids = Tensor::empty(Shape{batch}, DType::I32);
    for (std::int64_t b = 0; b < batch; ++b) {
      host_ids.data<std::int32_t>()[b] =
          static_cast<std::int32_t>(next[static_cast<std::size_t>(b)]);
    }
    dc.copy(dc.to_device(host_ids), ids);
    const bool replay = step >= steps / 2;
    if (replay && !graph.ready()) {
      dc.capture(graph, [&] { decoder.step(gpu, slots, batch, ids, scratch); });
    }
    if (replay) {
      slots.check_room(batch);
      graph.launch(dc.stream());
    } else {
      decoder.step(gpu, slots, batch, ids, scratch);
    }
    slots.note_advanced(batch);
    decoder.greedy(gpu, scratch.logits, device_argmax);
    const Tensor logits = ops::to_host(gpu, scratch.logits);
    const Tensor picked = ops::to_host(gpu, device_argmax);
    for (std::int64_t b = 0; b < batch; ++b) {
      T3State& st = host[static_cast<std::size_t>(b)];
      const std::int64_t tok = next[static_cast<std::size_t>(b)];
      Tensor e;
      model->embed_speech(cpu, std::span(&tok, 1), st, e);
      model->forward(cpu, e, st);
      const Tensor row = logits.narrow0(b, 1);
      EXPECT_LT(test::relative_max(row, st.logits), kBatchDeviceVsCpuTol)
          << "step " << step << " stream " << b << (replay ? " (graph)" : "");
      EXPECT_EQ(slots.length(b), st.length()) << "step " << step << " stream " << b;
      next[static_cast<std::size_t>(b)] = argmax(st.logits.data<float>(), vocab);
      argmax_agree += picked.data<std::int32_t>()[b] == next[static_cast<std::size_t>(b)];
      // The device's argmax of its own logits is exact (first maximum, as the CPU sampler).
      EXPECT_EQ(picked.data<std::int32_t>()[b], argmax(row.data<float>(), vocab))
          << "step " << step << " stream " << b;
    }
  }
  // bf16 on both sides, different summation orders: near-ties may flip, most must not.
  EXPECT_GE(argmax_agree, static_cast<int>(steps * batch * 9 / 10));
  std::printf("device greedy agreed with the CPU on %d of %lld tokens\n", argmax_agree,
              static_cast<long long>(steps * batch));
}

}  // namespace
}  // namespace chatterd
