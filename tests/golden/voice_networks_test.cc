// Golden parity of the three voice-cloning networks (VoiceEncoder, CAMPPlus, S3Tokenizer) on the
// turbo-tiny fixture: the reference's intermediate features recorded in
// golden/cond_pipeline.safetensors are fed to each network and its outputs compared.
// Metric (parity.h): max |actual - expected| / max |expected| <= 1e-4 for f32 embeddings; token
// ids and partial counts exactly. Each case runs single-threaded and on a 2-thread pool.

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "core/thread_pool.h"
#include "fixture_dirs.h"
#include "models/campplus/campplus.h"
#include "models/model_hparams.h"
#include "models/s3tokenizer/s3tokenizer.h"
#include "models/voice/voice_encoder.h"
#include "ops/exec_context.h"
#include "ops/layout.h"
#include "parity/parity.h"
#include "weights/weight_store.h"

namespace chatterd {
namespace {

class VoiceNetworksGolden : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    golden_ = WeightStore::open(test::kTurboTinyDir / "golden" / "cond_pipeline.safetensors");
    hp_ = load_hparams(test::kTurboTinyDir, Variant::Turbo);
    if (GetParam() > 1) pool_ = std::make_unique<ThreadPool>(GetParam());
    ctx_.pool = pool_.get();
  }
  Tensor golden(const char* name) const { return golden_->get_any(name); }
  void expect_pass(const parity::ParityReport& report) const {
    std::printf("%s\n", report.to_string().c_str());  // the measured errors, for the log
    EXPECT_TRUE(report.passed()) << report.to_string();
  }

  std::shared_ptr<WeightStore> golden_;
  ModelHparams hp_;
  std::unique_ptr<ThreadPool> pool_;
  ExecContext ctx_;
};

TEST_P(VoiceNetworksGolden, VoiceEncoderPartialsAndSpeakerEmbedding) {
  const auto store = WeightStore::open(test::kTurboTinyDir / "ve.safetensors");
  const VoiceEncoder ve(*store, hp_.ve);
  const Tensor mel_ct = golden("ve/mel");  // (40, T) as the reference stores it
  Tensor mel;
  ops::transpose(ctx_, mel_ct, 0, 1, mel);  // (T, 40)

  const Tensor partials = ve.partial_embeds(ctx_, mel);
  const Tensor count =
      Tensor::from_span<std::int64_t>(std::vector<std::int64_t>{partials.dim(0)}, {1});
  parity::ParityReport report("cond_pipeline/ve");
  report.compare_exact("ve/num_partials", count, golden("ve/num_partials"));
  if (partials.shape() == golden("ve/partial_embeds").shape()) {
    report.compare("ve/partial_embeds", partials, golden("ve/partial_embeds"));
  }
  report.compare("ve/speaker_emb", ve.embed(ctx_, mel), golden("ve/speaker_emb"));
  expect_pass(report);
  EXPECT_EQ(partials.dim(0), golden("ve/partial_embeds").dim(0));
}

TEST_P(VoiceNetworksGolden, CampPlusXvector) {
  const auto store = WeightStore::open(test::kTurboTinyDir / "s3gen_meanflow.safetensors");
  const CampPlus campplus(*store, hp_.campplus);
  parity::ParityReport report("cond_pipeline/campplus");
  report.compare("campplus/xvector", campplus.embed(ctx_, golden("campplus/fbank")),
                 golden("campplus/xvector"));
  expect_pass(report);
}

TEST_P(VoiceNetworksGolden, S3TokenizerT3PromptTokens) {
  const auto store = WeightStore::open(test::kTurboTinyDir / "s3gen_meanflow.safetensors");
  const S3Tokenizer tokenizer(*store, hp_.s3tokenizer);
  const Tensor tokens =
      tokenizer.tokenize(ctx_, golden("s3tok/t3_prompt/log_mel"), hp_.t3.speech_cond_prompt_len);
  parity::ParityReport report("cond_pipeline/s3tok");
  report.compare_exact("s3tok/t3_prompt/tokens", tokens, golden("s3tok/t3_prompt/tokens"));
  expect_pass(report);
}

// The CAMPPlus/S3Tokenizer weights are also kept alone in cond-tiny/: same results.
TEST_P(VoiceNetworksGolden, CondTinyEncodersFileGivesTheSameOutputs) {
  const auto store = WeightStore::open(test::kTurboTinyDir.parent_path() / "cond-tiny" /
                                       "s3gen_cond_encoders.safetensors");
  const CampPlus campplus(*store, hp_.campplus);
  const S3Tokenizer tokenizer(*store, hp_.s3tokenizer);
  parity::ParityReport report("cond_pipeline/cond-tiny");
  report.compare("campplus/xvector", campplus.embed(ctx_, golden("campplus/fbank")),
                 golden("campplus/xvector"));
  report.compare_exact(
      "s3tok/t3_prompt/tokens",
      tokenizer.tokenize(ctx_, golden("s3tok/t3_prompt/log_mel"), hp_.t3.speech_cond_prompt_len),
      golden("s3tok/t3_prompt/tokens"));
  expect_pass(report);
}

INSTANTIATE_TEST_SUITE_P(Threads, VoiceNetworksGolden, ::testing::Values(1, 2),
                         [](const auto& p) { return "threads" + std::to_string(p.param); });

}  // namespace
}  // namespace chatterd
