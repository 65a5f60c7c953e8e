// The Chatterbox pipeline's stages at synthetic:turbo dimensions, sized for the design's short
// text "Hi, this is Sarah from customer service. How can I help you today?":
//   T3 prefill of [spkr | 375 prompt | 16 text ids (its GPT-2 BPE length) | BOS];
//   one T3 decode step at the mid-utterance context (prefill + 65 tokens);
//   S3Gen flow encoder and meanflow solver (2 steps) over 250 prompt + 133 speech tokens
//   (130 generated = 13 words x 10, + 3 silence);
//   HiFT over the 266 speech mel frames (5.3 s of audio).
// Time to first audio (one text chunk, no token streaming) = prefill + 129 decode steps + encoder
// + solver + HiFT. The end-to-end engine run (same sizes) is the opt-in test
// ChatterboxEngine.SyntheticTurboTiming (CHATTERD_PIPELINE_TIMING=1), since this binary does not
// link chatterd_pipeline. range(0): threads. Google Benchmark reports wall and CPU time.
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "core/rng.h"
#include "core/thread_pool.h"
#include "models/hift/hift.h"
#include "models/model_hparams.h"
#include "models/s3gen/s3gen_flow.h"
#include "models/synthetic_weights.h"
#include "models/t3/t3_model.h"
#include "models/t3/t3_synthetic.h"
#include "ops/layout.h"

namespace chatterd {
namespace {

constexpr std::int64_t kT3PromptTokens = 375;
constexpr std::int64_t kTextIds = 16;
constexpr std::int64_t kGenTokens = 130;
constexpr std::int64_t kS3Tokens = kGenTokens + 3;
constexpr std::int64_t kGenPromptTokens = 250;

struct Models {
  ModelHparams hp = ModelHparams::defaults(Variant::Turbo);
  std::shared_ptr<const T3Model> t3 = make_synthetic_t3(Variant::Turbo, 1);
  std::shared_ptr<WeightStore> s3gen;
  std::unique_ptr<S3GenFlow> flow;
  std::unique_ptr<hift::Hift> hift;
  T3Cond cond;
  S3GenPrompt prompt;
  std::vector<std::int64_t> text_ids;
  Tensor speech;

  Models() {
    std::vector<TensorSpec> specs = s3gen_flow_tensor_specs(hp.s3gen);
    for (auto& s : hift_tensor_specs(hp.s3gen)) specs.push_back(std::move(s));
    s3gen = make_synthetic_weights(specs, 2, "synthetic:turbo");
    flow = std::make_unique<S3GenFlow>(*s3gen, hp.s3gen);
    hift = std::make_unique<hift::Hift>(*s3gen, hp.s3gen.hift);
    Rng rng(3);
    cond.speaker_emb = Tensor::empty({1, hp.t3.speaker_embed_size}, DType::F32);
    rng.fill_normal(cond.speaker_emb.data<float>(), cond.speaker_emb.numel());
    for (std::int64_t i = 0; i < kT3PromptTokens; ++i) {
      cond.prompt_tokens.push_back(static_cast<std::int64_t>(rng.next_u64() % 6561));
    }
    for (std::int64_t i = 0; i < kTextIds; ++i) {
      text_ids.push_back(static_cast<std::int64_t>(rng.next_u64() % 50000));
    }
    std::vector<std::int64_t> pt(kGenPromptTokens);
    for (auto& t : pt) t = static_cast<std::int64_t>(rng.next_u64() % 6561);
    prompt.tokens = Tensor::from_span<std::int64_t>(pt, {1, kGenPromptTokens});
    prompt.mel = Tensor::empty({1, 2 * kGenPromptTokens, 80}, DType::F32);
    float* m = prompt.mel.data<float>();
    for (std::int64_t i = 0; i < prompt.mel.numel(); ++i) m[i] = rng.next_normal() - 4.0f;
    prompt.embedding = Tensor::empty({1, 192}, DType::F32);
    rng.fill_normal(prompt.embedding.data<float>(), 192);
    std::vector<std::int64_t> st(kS3Tokens);
    for (auto& t : st) t = static_cast<std::int64_t>(rng.next_u64() % 6561);
    speech = Tensor::from_span<std::int64_t>(st, {1, kS3Tokens});
  }
};

Models& models() {
  static Models m;
  return m;
}

struct Ctx {
  explicit Ctx(std::int64_t threads) : pool(static_cast<int>(threads)) {
    ctx.pool = pool.size() > 1 ? &pool : nullptr;
  }
  ThreadPool pool;
  ExecContext ctx;
};

void BM_PipelineT3Prefill(benchmark::State& state) {
  Models& m = models();
  Ctx c(state.range(0));
  const std::int64_t len = m.t3->prefill_length(m.cond, kTextIds);
  T3State st = m.t3->new_state(len + kGenTokens);
  Tensor embeds;
  for (auto _ : state) {
    m.t3->reset_state(st, len + kGenTokens);
    m.t3->prefill_embeds(c.ctx, m.cond, m.text_ids, st, embeds);
    m.t3->forward(c.ctx, embeds, st);
    benchmark::DoNotOptimize(st.logits.raw_data());
  }
  state.counters["rows"] = static_cast<double>(len);
}

void BM_PipelineT3DecodeStep(benchmark::State& state) {
  Models& m = models();
  Ctx c(state.range(0));
  const std::int64_t len = m.t3->prefill_length(m.cond, kTextIds);
  const std::int64_t context = len + kGenTokens / 2;
  T3State st = m.t3->new_state(context + 1);
  Tensor embeds;
  // Fill the cache to `context` rows once; each iteration appends one token, then drops it.
  m.t3->prefill_embeds(c.ctx, m.cond, m.text_ids, st, embeds);
  Tensor extra;
  std::vector<std::int64_t> filler(static_cast<std::size_t>(kGenTokens / 2), 100);
  m.t3->embed_speech(c.ctx, filler, st, extra);
  Tensor all;
  const Tensor parts[] = {embeds, extra};
  ops::concat(c.ctx, parts, 0, all);
  m.t3->forward(c.ctx, all, st);
  const std::int64_t tok = 123;
  Tensor one;
  for (auto _ : state) {
    for (auto& cache : st.caches) cache.truncate(context);
    m.t3->embed_speech(c.ctx, std::span<const std::int64_t>(&tok, 1), st, one);
    m.t3->forward(c.ctx, one, st);
    benchmark::DoNotOptimize(st.logits.raw_data());
  }
  state.counters["context"] = static_cast<double>(context);
}

void BM_PipelineFlowEncoder(benchmark::State& state) {
  Models& m = models();
  Ctx c(state.range(0));
  for (auto _ : state) {
    const FlowEncoding enc = m.flow->encode(c.ctx, m.speech, m.prompt);
    benchmark::DoNotOptimize(enc.mu.raw_data());
  }
}

void BM_PipelineFlowSolver(benchmark::State& state) {
  Models& m = models();
  Ctx c(state.range(0));
  const FlowEncoding enc = m.flow->encode(c.ctx, m.speech, m.prompt);
  Rng rng(4);
  const Tensor z = m.flow->draw_noise(rng, enc.mu.dim(2), 2 * kS3Tokens);
  for (auto _ : state) {
    const Tensor x = m.flow->solve(c.ctx, enc, z, m.hp.s3gen.n_cfm_timesteps);
    benchmark::DoNotOptimize(x.raw_data());
  }
}

void BM_PipelineHift(benchmark::State& state) {
  Models& m = models();
  Ctx c(state.range(0));
  Tensor mel = Tensor::empty({1, 80, 2 * kS3Tokens}, DType::F32);
  Rng rng(5);
  for (std::int64_t i = 0; i < mel.numel(); ++i) mel.data<float>()[i] = rng.next_normal() - 5.0f;
  for (auto _ : state) {
    Rng noise(6);
    hift::HiftOutput out = m.hift->infer(c.ctx, mel, noise);
    benchmark::DoNotOptimize(out.wav.raw_data());
  }
  state.counters["audio_s"] = static_cast<double>(2 * kS3Tokens) / 50.0;
}

BENCHMARK(BM_PipelineT3Prefill)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PipelineT3DecodeStep)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PipelineFlowEncoder)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PipelineFlowSolver)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_PipelineHift)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace chatterd
