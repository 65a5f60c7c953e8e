// T3Model::forward_batch (continuous batching of GPT-2 streams): a batched decode step gives each
// stream the logits its own forward() would, whatever the other streams' lengths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include "chatterd/core/error.h"
#include "core/thread_pool.h"
#include "fixture_dirs.h"
#include "models/t3/t3_cond.h"
#include "models/t3/t3_model.h"

namespace chatterd {
namespace {

float rel_error(const Tensor& a, const Tensor& e) {
  float diff = 0.0f, scale = 0.0f;
  for (std::int64_t i = 0; i < e.numel(); ++i) {
    diff = std::max(diff, std::abs(a.data<float>()[i] - e.data<float>()[i]));
    scale = std::max(scale, std::abs(e.data<float>()[i]));
  }
  return diff / scale;
}

// Three streams with different texts (so different lengths), each prefilled alone; then `steps`
// decode steps fed the same tokens either one stream at a time or batched.
void check_batched_equals_sequential(int n_threads) {
  const auto model = T3Model::load(test::kTurboTinyDir);
  const T3Cond cond = load_t3_cond(test::kTurboTinyDir / "conds.pt", model->config());
  ThreadPool pool(n_threads);
  ExecContext ctx;
  ctx.pool = n_threads > 1 ? &pool : nullptr;
  const std::vector<std::vector<std::int64_t>> texts = {
      {15496, 612, 13}, {40, 716, 994, 257, 1332, 13, 632}, {10248}};
  constexpr int kSteps = 6;
  const std::int64_t vocab = model->config().speech_vocab_size;

  std::vector<T3State> solo, batched;
  for (const auto& text : texts) {
    for (auto* group : {&solo, &batched}) {
      group->push_back(model->new_state(model->prefill_length(cond, 3 + 7) + kSteps + 1));
      T3State& st = group->back();
      Tensor embeds;
      model->prefill_embeds(ctx, cond, text, st, embeds);
      model->forward(ctx, embeds, st);
    }
  }
  ASSERT_NE(solo[0].length(), solo[1].length());

  T3BatchScratch scratch;
  std::vector<T3State*> ptrs;
  for (auto& st : batched) ptrs.push_back(&st);
  Tensor row, embeds;
  for (int step = 0; step < kSteps; ++step) {
    // Feed each stream a different token (its argmax would do, but fixed ids keep the check on
    // the arithmetic only).
    embeds.resize(Shape{3, model->config().hidden_size}, DType::F32);
    for (std::size_t b = 0; b < 3; ++b) {
      const std::int64_t token = (17 * static_cast<std::int64_t>(b) + 5 * step + 3) % vocab;
      model->decode_embeds(ctx, token, step, solo[b], row);
      model->forward(ctx, row, solo[b]);
      model->decode_embeds(ctx, token, step, batched[b], row);
      std::copy_n(row.data<float>(), row.numel(),
                  embeds.data<float>() + static_cast<std::int64_t>(b) * row.numel());
    }
    model->forward_batch(ctx, embeds, ptrs, scratch);
    for (std::size_t b = 0; b < 3; ++b) {
      ASSERT_EQ(batched[b].length(), solo[b].length());
      ASSERT_EQ(batched[b].logits.shape(), solo[b].logits.shape());
      // Only float summation order differs (matrix-vector vs matrix-matrix kernels).
      EXPECT_LE(rel_error(batched[b].logits, solo[b].logits), 1e-5f)
          << "stream " << b << " step " << step;
      EXPECT_LE(rel_error(batched[b].hidden, solo[b].hidden), 1e-5f);
    }
  }
}

TEST(T3ForwardBatch, EachStreamGetsItsOwnLogitsOneThread) {
  check_batched_equals_sequential(1);
}
TEST(T3ForwardBatch, EachStreamGetsItsOwnLogitsTwoThreads) {
  check_batched_equals_sequential(2);
}

TEST(T3ForwardBatch, RefusesBadInputs) {
  const auto model = T3Model::load(test::kTurboTinyDir);
  ExecContext ctx;
  T3BatchScratch scratch;
  T3State a = model->new_state(16);
  std::vector<T3State*> states{&a};
  const std::int64_t d = model->config().hidden_size;
  EXPECT_THROW(model->forward_batch(ctx, Tensor::zeros({2, d}, DType::F32), states, scratch),
               ShapeError);
  states.push_back(nullptr);
  EXPECT_THROW(model->forward_batch(ctx, Tensor::zeros({2, d}, DType::F32), states, scratch),
               InvalidArgument);
  const auto llama = T3Model::load(test::kEnglishTinyDir);
  T3State l = llama->new_state(16);
  std::vector<T3State*> lstates{&l};
  EXPECT_THROW(
      llama->forward_batch(ctx, Tensor::zeros({1, llama->config().hidden_size}, DType::F32),
                           lstates, scratch),
      InvalidArgument);
}

}  // namespace
}  // namespace chatterd
