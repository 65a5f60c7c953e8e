// The voice's conditioning prefix (T3Model::make_cond_prefix): a request that starts from it runs
// only text + BOS, and must give the logits of the whole prefill (up to f32 summation order) and
// the same tokens, solo and batched.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include "chatterd/core/error.h"
#include "core/thread_pool.h"
#include "fixture_dirs.h"
#include "models/t3/t3_batch_generate.h"
#include "models/t3/t3_cond.h"
#include "models/t3/t3_generate.h"

namespace chatterd {
namespace {

TEST(T3CondPrefix, PrefillFromThePrefixGivesTheWholePrefillsLogits) {
  const auto model = T3Model::load(test::kTurboTinyDir);
  const T3Cond cond = load_t3_cond(test::kTurboTinyDir / "conds.pt", model->config());
  ThreadPool pool(2);
  const ExecContext ctx{&pool};
  const T3CondPrefix prefix = model->make_cond_prefix(ctx, cond);
  EXPECT_EQ(prefix.length, model->cond_length(cond));
  ASSERT_EQ(prefix.caches.size(), static_cast<std::size_t>(model->config().num_layers));
  const std::vector<std::int64_t> text = {15496, 612, 13, 40, 716};
  T3State whole, cached;
  const std::int64_t capacity = model->prefill_length(cond, 5) + 4;
  model->reset_state(whole, capacity);
  model->reset_state(cached, capacity);
  model->prefill(ctx, cond, text, nullptr, whole);
  model->prefill(ctx, cond, text, &prefix, cached);
  EXPECT_EQ(cached.length(), whole.length());
  ASSERT_EQ(cached.logits.shape(), whole.logits.shape());
  double err = 0.0, scale = 0.0;
  for (std::int64_t i = 0; i < whole.logits.numel(); ++i) {
    err = std::max(err, std::fabs(static_cast<double>(cached.logits.data<float>()[i]) -
                                  whole.logits.data<float>()[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(whole.logits.data<float>()[i])));
  }
  EXPECT_LT(err / scale, 1e-5);
  // The prefix itself is never written: a second request from it gives the same logits.
  T3State again;
  model->reset_state(again, capacity);
  model->prefill(ctx, cond, text, &prefix, again);
  for (std::int64_t i = 0; i < again.logits.numel(); ++i) {
    ASSERT_EQ(again.logits.data<float>()[i], cached.logits.data<float>()[i]);
  }
}

TEST(T3CondPrefix, SameTokensSoloAndBatched) {
  const auto model = T3Model::load(test::kTurboTinyDir);
  const T3Cond cond = load_t3_cond(test::kTurboTinyDir / "conds.pt", model->config());
  const ExecContext ctx;
  const T3CondPrefix prefix = model->make_cond_prefix(ctx, cond);
  const std::vector<std::int64_t> text = {15496, 612, 13};
  T3GenerateOptions o;
  o.sampling.seed = 11;
  o.max_gen_len = 30;
  T3State s1, s2;
  const T3GenerateResult plain = generate_speech_tokens(ctx, *model, cond, text, o, s1);
  o.cond_prefix = &prefix;
  const T3GenerateResult from_prefix = generate_speech_tokens(ctx, *model, cond, text, o, s2);
  EXPECT_EQ(from_prefix.tokens, plain.tokens);
  EXPECT_EQ(from_prefix.prefill_length, plain.prefill_length);

  T3BatchGenerator batch(*model, 2);
  const auto id = batch.add(ctx, cond, text, o, {});
  std::vector<std::int64_t> tokens;
  while (tokens.empty()) {
    for (auto& f : batch.step(ctx)) {
      if (f.id == id) tokens = f.result.tokens;
    }
  }
  EXPECT_EQ(tokens, plain.tokens);
}

TEST(T3CondPrefix, RefusedWhereItDoesNotApply) {
  const auto llama = T3Model::load(test::kEnglishTinyDir);
  const T3Cond cond = load_t3_cond(test::kEnglishTinyDir / "conds.pt", llama->config());
  EXPECT_THROW((void)llama->make_cond_prefix(ExecContext{}, cond), Unsupported);
  const auto model = T3Model::load(test::kTurboTinyDir);
  const T3Cond turbo_cond = load_t3_cond(test::kTurboTinyDir / "conds.pt", model->config());
  T3CondPrefix empty;
  T3State state;
  model->reset_state(state, 500);
  const std::vector<std::int64_t> text = {15496};
  EXPECT_THROW(model->prefill(ExecContext{}, turbo_cond, text, &empty, state), InvalidArgument);
}

}  // namespace
}  // namespace chatterd
