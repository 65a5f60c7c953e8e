// Building a ChatterboxEngine: from a model directory, or from synthetic weights.
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/check.h"
#include "core/rng.h"
#include "models/model_dir.h"
#include "models/synthetic_weights.h"
#include "models/t3/t3_synthetic.h"
#include "pipeline/chatterbox_engine.h"
#include "pipeline/synthetic_tokenizer.h"
#include "text/gpt2_tokenizer.h"
#include "text/hf_tokenizer.h"
#include "text/language.h"

namespace chatterd {
namespace {

constexpr const char* kDefaultVoiceName = "default";

// Synthetic default voice sizes: the real prompts (15 s of T3 prompt at 25 tokens/s; 10 s of
// S3Gen prompt, 2 mel frames per token).
constexpr std::int64_t kSyntheticT3PromptTokens = 375;
constexpr std::int64_t kSyntheticGenPromptTokens = 250;

ChatterboxVoice synthetic_voice(const ModelHparams& hp, std::uint64_t seed) {
  Rng rng(seed ^ 0x766f696365ULL);  // "voice"
  const auto speech_vocab = static_cast<std::uint64_t>(hp.s3gen.vocab_size);
  ChatterboxVoice v;
  v.name = kDefaultVoiceName;
  v.t3.speaker_emb = Tensor::empty({1, hp.t3.speaker_embed_size}, DType::F32);
  rng.fill_normal(v.t3.speaker_emb.data<float>(), v.t3.speaker_emb.numel());
  v.t3.prompt_tokens.resize(static_cast<std::size_t>(
      is_turbo_family(hp.variant) ? kSyntheticT3PromptTokens : hp.t3.speech_cond_prompt_len));
  for (auto& t : v.t3.prompt_tokens) t = static_cast<std::int64_t>(rng.next_u64() % speech_vocab);

  std::vector<std::int64_t> gen_tokens(static_cast<std::size_t>(kSyntheticGenPromptTokens));
  for (auto& t : gen_tokens) t = static_cast<std::int64_t>(rng.next_u64() % speech_vocab);
  v.gen.tokens = Tensor::from_span<std::int64_t>(gen_tokens, {1, kSyntheticGenPromptTokens});
  const std::int64_t frames = hp.s3gen.token_mel_ratio * kSyntheticGenPromptTokens;
  v.gen.mel = Tensor::empty({1, frames, hp.s3gen.mel_bins}, DType::F32);
  float* mel = v.gen.mel.data<float>();
  // Log-mel-like values (speech sits around -5 .. 0).
  for (std::int64_t i = 0; i < v.gen.mel.numel(); ++i) mel[i] = rng.next_normal() - 4.0f;
  v.gen.embedding = Tensor::empty({1, hp.s3gen.spk_embed_dim}, DType::F32);
  rng.fill_normal(v.gen.embedding.data<float>(), v.gen.embedding.numel());
  return v;
}

// A tokenizer.json-style tokenizer for synthetic English/Multilingual engines: the real special
// ids ([STOP] 0, [UNK] 1, [SPACE] 2, [START] 255), printable ASCII from id 3, the language tags
// after it, filler up to the real vocabulary size. Unknown characters are allowed (they become
// [UNK]) so any text runs.
T3CfgTextEncoder synthetic_cfg_text(const T3Config& config) {
  nlohmann::json vocab = nlohmann::json::object();
  vocab["[STOP]"] = 0;
  vocab["[UNK]"] = 1;
  vocab["[SPACE]"] = 2;
  std::int64_t id = 3;
  for (char c = '!'; c <= '~'; ++c) vocab[std::string(1, c)] = id++;
  vocab["[START]"] = config.start_text_token;
  nlohmann::json added = nlohmann::json::array();
  for (const char* special : {"[STOP]", "[UNK]", "[SPACE]", "[START]"}) {
    added.push_back({{"id", vocab[special]}, {"content", special}, {"special", true}});
  }
  id = 300;
  for (const text::LanguageInfo& l : text::kLanguages) {
    const std::string tag = "[" + std::string(l.code) + "]";
    vocab[tag] = id;
    added.push_back({{"id", id}, {"content", tag}, {"special", false}});
    ++id;
  }
  for (; id < config.text_vocab_size; ++id) vocab["<synthetic_" + std::to_string(id) + ">"] = id;
  const nlohmann::json file = {{"added_tokens", added},
                               {"pre_tokenizer", {{"type", "Whitespace"}}},
                               {"model",
                                {{"type", "BPE"},
                                 {"unk_token", "[UNK]"},
                                 {"vocab", vocab},
                                 {"merges", nlohmann::json::array()}}}};
  return T3CfgTextEncoder(text::HfTokenizer::from_json(file.dump(), "synthetic tokenizer"), config,
                          /*allow_unknown=*/true);
}

}  // namespace

DType weight_dtype_storage(WeightDType dtype) {
  switch (dtype) {
    case WeightDType::F32:
      return DType::F32;
    case WeightDType::F16:
      return DType::F16;
    case WeightDType::BF16:
      return DType::BF16;
    case WeightDType::Int8:
      return DType::Q8_0;
    case WeightDType::Int4:
      return DType::Q4_0;
  }
  CHATTERD_THROW(InvalidArgument, "bad WeightDType {}", static_cast<int>(dtype));
}

std::unique_ptr<ChatterboxEngine> ChatterboxEngine::load(const std::filesystem::path& dir,
                                                         int n_threads, WeightDType t3_dtype) {
  const ModelDir files = ModelDir::open(dir);
  const Variant variant = files.variant();
  std::vector<std::string> missing = files.missing_required();
  // conds.pt is optional to the reference (a voice can be cloned per call) but it is the only
  // voice this engine has until voice cloning lands.
  const auto conds_path = files.find(ModelComponent::Conditionals);
  if (!conds_path) missing.emplace_back("conds.pt");
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    CHATTERD_THROW(ModelFormatError, "{}: chatterbox {} model directory lacks {}", dir.string(),
                   variant_name(variant), list);
  }

  Parts p;
  p.hp = load_hparams(dir, variant);
  p.name = "chatterbox-" + std::string(variant_name(variant));
  p.t3 = T3Model::load(dir, weight_dtype_storage(t3_dtype));
  const auto s3gen = WeightStore::open(*files.find(ModelComponent::S3Gen));
  p.s3gen_weights = s3gen;
  p.flow = std::make_unique<S3GenFlow>(*s3gen, p.hp.s3gen);
  p.hift = std::make_unique<hift::Hift>(*s3gen, p.hp.s3gen.hift);
  if (p.t3->is_llama()) {
    p.cfg_text = std::make_unique<T3CfgTextEncoder>(
        T3CfgTextEncoder::from_file(*files.find(ModelComponent::Tokenizer), p.t3->config()));
  } else {
    p.text = std::make_unique<T3TextEncoder>(T3TextEncoder::from_dir(dir, p.t3->config()));
  }

  ChatterboxVoice voice;
  voice.name = kDefaultVoiceName;
  voice.t3 = load_t3_cond(*conds_path, p.t3->config());
  voice.source = WeightStore::open(*conds_path);
  voice.gen = S3GenPrompt::from_conds(*voice.source);
  p.voices.push_back(std::move(voice));
  return std::make_unique<ChatterboxEngine>(std::move(p), n_threads);
}

std::unique_ptr<ChatterboxEngine> ChatterboxEngine::synthetic(Variant variant, int n_threads,
                                                              std::uint64_t seed,
                                                              WeightDType t3_dtype) {
  Parts p;
  p.hp = ModelHparams::defaults(variant);
  p.name = "chatterbox-" + std::string(variant_name(variant)) + " (synthetic)";
  p.t3 = make_synthetic_t3(variant, seed, DType::F32, weight_dtype_storage(t3_dtype));
  std::vector<TensorSpec> specs = s3gen_flow_tensor_specs(p.hp.s3gen);
  for (auto& s : hift_tensor_specs(p.hp.s3gen)) specs.push_back(std::move(s));
  const auto s3gen =
      make_synthetic_weights(specs, seed + 1, "synthetic:" + std::string(variant_name(variant)));
  p.s3gen_weights = s3gen;
  p.flow = std::make_unique<S3GenFlow>(*s3gen, p.hp.s3gen);
  p.hift = std::make_unique<hift::Hift>(*s3gen, p.hp.s3gen.hift);
  if (p.t3->is_llama()) {
    p.cfg_text = std::make_unique<T3CfgTextEncoder>(synthetic_cfg_text(p.t3->config()));
  } else {
    p.text = std::make_unique<T3TextEncoder>(synthetic_gpt2_tokenizer(p.hp.t3.text_vocab_size),
                                             p.t3->config());
  }
  p.voices.push_back(synthetic_voice(p.hp, seed));
  p.forced_length = true;
  return std::make_unique<ChatterboxEngine>(std::move(p), n_threads);
}

}  // namespace chatterd
