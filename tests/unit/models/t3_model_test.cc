// T3 (GPT-2 / Turbo) model, generation loop, conditioning loading and text chunking on the tiny
// turbo fixture; bad inputs must give clear typed errors.
#include "models/t3/t3_model.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "chatterd/core/error.h"
#include "core/thread_pool.h"
#include "fixture_dirs.h"
#include "models/model_hparams.h"
#include "models/t3/t3_cond.h"
#include "models/t3/t3_generate.h"
#include "models/t3/t3_text.h"
#include "text/punc_norm.h"

namespace chatterd {
namespace {

const std::shared_ptr<const T3Model>& turbo_model() {
  static const auto model = T3Model::load(test::kTurboTinyDir);
  return model;
}

const T3Cond& turbo_cond() {
  static const T3Cond cond =
      load_t3_cond(test::kTurboTinyDir / "conds.pt", turbo_model()->config());
  return cond;
}

std::vector<std::int64_t> some_text() {
  return {15496, 612, 13};
}  // "Hello there."

// An in-memory TensorFile for malformed conds entries.
class FakeFile final : public TensorFile {
 public:
  explicit FakeFile(std::map<std::string, Tensor, std::less<>> t) : t_(std::move(t)) {
    for (const auto& [name, tensor] : t_) infos_.push_back({name, tensor.dtype(), tensor.shape()});
  }
  const std::filesystem::path& path() const override { return path_; }
  const std::vector<TensorInfo>& tensors() const override { return infos_; }
  bool contains(std::string_view name) const override { return t_.find(name) != t_.end(); }
  Tensor get(std::string_view name) const override { return t_.find(name)->second; }

 private:
  std::filesystem::path path_ = "fake_conds.pt";
  std::map<std::string, Tensor, std::less<>> t_;
  std::vector<TensorInfo> infos_;
};

Tensor i64s(std::vector<std::int64_t> v, Shape shape) {
  Tensor t = Tensor::empty(shape, DType::I64);
  std::copy(v.begin(), v.end(), t.data<std::int64_t>());
  return t;
}

TEST(T3Cond, LoadsFixtureConds) {
  const T3Cond& c = turbo_cond();
  EXPECT_EQ(c.speaker_emb.shape(), Shape({1, 256}));
  EXPECT_EQ(c.prompt_tokens.size(), 150u);
  EXPECT_FALSE(c.prompt_emb.defined() && c.prompt_emb.numel() > 0);
}

TEST(T3Cond, MalformedEntriesAreRejected) {
  const T3Config& cfg = turbo_model()->config();
  const Tensor spk = Tensor::zeros({1, 256}, DType::F32);
  const Tensor toks = i64s({1, 2, 3}, {1, 3});
  auto expect_error = [&](std::map<std::string, Tensor, std::less<>> t, const char* needle) {
    FakeFile f(std::move(t));
    try {
      t3_cond_from_file(f, cfg, "conds.pt");
      ADD_FAILURE() << "expected ModelFormatError containing " << needle;
    } catch (const ModelFormatError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({{"t3.cond_prompt_speech_tokens", toks}}, "missing entry 't3.speaker_emb'");
  expect_error({{"t3.speaker_emb", spk}}, "missing entry 't3.cond_prompt_speech_tokens'");
  expect_error({{"t3.speaker_emb", Tensor::zeros({1, 255}, DType::F32)},
                {"t3.cond_prompt_speech_tokens", toks}},
               "[1, 256]");
  expect_error({{"t3.speaker_emb", spk}, {"t3.cond_prompt_speech_tokens", i64s({1, 9999}, {1, 2})}},
               "id 9999");
  expect_error({{"t3.speaker_emb", spk}, {"t3.cond_prompt_speech_tokens", i64s({1, -1}, {1, 2})}},
               "id -1");
  expect_error({{"t3.speaker_emb", spk},
                {"t3.cond_prompt_speech_tokens", Tensor::zeros({1, 3}, DType::F32)}},
               "integer");
  expect_error({{"t3.speaker_emb", spk},
                {"t3.cond_prompt_speech_tokens", toks},
                {"t3.cond_prompt_speech_emb", Tensor::zeros({1, 2, 16}, DType::F32)}},
               "2 rows");
  // A good file passes.
  FakeFile ok({{"t3.speaker_emb", spk}, {"t3.cond_prompt_speech_tokens", toks}});
  EXPECT_EQ(t3_cond_from_file(ok, cfg, "conds.pt").prompt_tokens.size(), 3u);
}

TEST(T3Model, Gpt2RefusesACfgBatch) {
  EXPECT_THROW(turbo_model()->new_state(8, 2), InvalidArgument);
}

TEST(T3Model, CachedDecodeMatchesOneShotForward) {
  const auto& m = *turbo_model();
  const ExecContext ctx;
  const std::vector<std::int64_t> speech{10, 20, 20, 6000};
  T3State a = m.new_state(0);  // grows on demand
  Tensor embeds;
  m.prefill_embeds(ctx, turbo_cond(), some_text(), a, embeds);
  m.forward(ctx, embeds, a);
  for (const auto tok : speech) {
    Tensor e;
    m.embed_speech(ctx, std::span<const std::int64_t>(&tok, 1), a, e);
    m.forward(ctx, e, a);
  }
  // One shot: prefill rows + the speech rows.
  T3State b = m.new_state(64);
  Tensor s;
  m.embed_speech(ctx, speech, b, s);
  Tensor all = Tensor::empty({embeds.dim(0) + 4, embeds.dim(1)}, DType::F32);
  std::copy_n(embeds.data<float>(), embeds.numel(), all.data<float>());
  std::copy_n(s.data<float>(), s.numel(), all.data<float>() + embeds.numel());
  m.forward(ctx, all, b);
  ASSERT_EQ(a.length(), b.length());
  for (std::int64_t i = 0; i < a.logits.numel(); ++i) {
    ASSERT_NEAR(a.logits.data<float>()[i], b.logits.data<float>()[i], 1e-3) << i;
  }
}

TEST(T3Model, SequencePastPositionsIsRejected) {
  const auto& m = *turbo_model();
  const ExecContext ctx;
  T3State st = m.new_state(16);
  Tensor big = Tensor::zeros({m.max_positions() + 1, m.config().hidden_size}, DType::F32);
  EXPECT_THROW(m.forward(ctx, big, st), InvalidArgument);
  const std::vector<std::int64_t> bad{m.config().text_vocab_size};
  Tensor e;
  EXPECT_THROW(m.embed_text(ctx, bad, st, e), InvalidArgument);
}

TEST(T3Generate, SeededSamplingIsReproducibleAndThreadIndependent) {
  const auto& m = *turbo_model();
  T3GenerateOptions opt;
  opt.sampling.seed = 42;
  opt.max_gen_len = 30;
  T3State st;
  const auto r1 = generate_speech_tokens(ExecContext{}, m, turbo_cond(), some_text(), opt, st);
  ThreadPool pool(2);
  const auto r2 = generate_speech_tokens(ExecContext{&pool}, m, turbo_cond(), some_text(), opt, st);
  EXPECT_EQ(r1.tokens, r2.tokens);
  EXPECT_FALSE(r1.tokens.empty());
  EXPECT_LE(r1.tokens.size(), 31u);
  opt.sampling.seed = 43;
  const auto r3 = generate_speech_tokens(ExecContext{}, m, turbo_cond(), some_text(), opt, st);
  EXPECT_NE(r1.tokens, r3.tokens);  // random weights: a flat distribution, 30 draws
}

TEST(T3Generate, CallbackStreamsTokensAndCanCancel) {
  const auto& m = *turbo_model();
  T3GenerateOptions opt;
  opt.sampling.greedy = true;
  opt.max_gen_len = 12;
  T3State st;
  std::vector<std::int64_t> streamed;
  const auto r = generate_speech_tokens(ExecContext{}, m, turbo_cond(), some_text(), opt, st,
                                        [&](std::int64_t t) {
                                          streamed.push_back(t);
                                          return true;
                                        });
  EXPECT_EQ(streamed, r.tokens);
  if (!r.hit_eos && !r.all_filtered) {
    EXPECT_EQ(r.tokens.size(), 13u);
  }
  int calls = 0;
  const auto c = generate_speech_tokens(ExecContext{}, m, turbo_cond(), some_text(), opt, st,
                                        [&](std::int64_t) { return ++calls < 3; });
  EXPECT_TRUE(c.cancelled);
  EXPECT_EQ(calls, 3);
}

TEST(T3Generate, BadOptionsAndEmptyTextAreRejected) {
  const auto& m = *turbo_model();
  T3State st;
  T3GenerateOptions opt;
  EXPECT_THROW(generate_speech_tokens(ExecContext{}, m, turbo_cond(), {}, opt, st),
               InvalidArgument);
  opt.sampling.top_p = 0.0f;
  EXPECT_THROW(generate_speech_tokens(ExecContext{}, m, turbo_cond(), some_text(), opt, st),
               InvalidArgument);
  opt = {};
  opt.max_gen_len = -1;
  EXPECT_THROW(generate_speech_tokens(ExecContext{}, m, turbo_cond(), some_text(), opt, st),
               InvalidArgument);
}

TEST(T3Generate, S3GenPostProcessing) {
  const auto& cfg = turbo_model()->config();
  const std::vector<std::int64_t> toks{5, 6561, 6560, 6562, 0};
  EXPECT_EQ(speech_tokens_for_s3gen(toks, cfg),
            (std::vector<std::int64_t>{5, 6560, 0, 4299, 4299, 4299}));
}

// ---- text ----

const T3TextEncoder& encoder() {
  static const T3TextEncoder enc =
      T3TextEncoder::from_dir(test::kTurboTinyDir, turbo_model()->config());
  return enc;
}

TEST(T3Text, EncodesLikeTheGolden) {
  const auto chunks = encoder().encode("Hello there.", 1000);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].ids, (std::vector<std::int64_t>{15496, 612, 13}));
}

TEST(T3Text, EmptyTextSpeaksTheReferenceSentence) {
  const auto chunks = encoder().encode("", 1000);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, text::kEmptyTextReplacement);
  EXPECT_FALSE(chunks[0].ids.empty());
}

TEST(T3Text, InvalidUtf8IsAClearError) {
  try {
    encoder().encode("abc\xff\xfe", 1000);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos) << e.what();
  }
}

TEST(T3Text, LongTextIsSplitAtSentences) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "This is sentence number " + std::to_string(i) + ". ";
  const std::int64_t max = 30;
  const auto chunks = encoder().encode(text, max);
  ASSERT_GT(chunks.size(), 1u);
  std::string joined;
  for (const auto& c : chunks) {
    EXPECT_LE(static_cast<std::int64_t>(c.ids.size()), max);
    EXPECT_FALSE(c.ids.empty());
    EXPECT_EQ(c.text.back(), '.') << c.text;  // whole sentences
    joined += (joined.empty() ? "" : " ") + c.text;
  }
  EXPECT_EQ(joined, text::punc_norm(text, text::PuncNormFlavor::kTurbo));
  // A single over-long sentence is split between words, never truncated.
  std::string words;
  for (int i = 0; i < 100; ++i) words += "word ";
  const auto parts = encoder().encode(words, 16);
  std::size_t total = 0;
  for (const auto& c : parts) {
    EXPECT_LE(c.ids.size(), 16u);
    total += c.ids.size();
  }
  EXPECT_GE(total, 100u);
}

TEST(T3Text, MaxTextTokensUsesPositionsAndTokenizerLimit) {
  const auto& cfg = turbo_model()->config();
  // Tiny wpe has 1024 rows: 1024 - 151 (cond) - 1 (BOS) - 101 generated.
  EXPECT_EQ(encoder().max_text_tokens(151, 100), cfg.max_position_embeddings - 151 - 1 - 101);
  EXPECT_THROW(encoder().max_text_tokens(151, 5000), InvalidArgument);
}

TEST(T3Text, TokenizerVocabMismatchIsAModelFormatError) {
  T3Config cfg = turbo_model()->config();
  cfg.text_vocab_size = 50000;
  try {
    T3TextEncoder::from_dir(test::kTurboTinyDir, cfg);
    FAIL();
  } catch (const ModelFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("50000"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace chatterd
