#include "models/model_hparams.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <system_error>

#include "core/check.h"

namespace chatterd {

ModelHparams ModelHparams::defaults(Variant variant) {
  ModelHparams hp;
  hp.variant = variant;
  hp.t3 = T3Config::defaults(variant);
  hp.s3gen = S3GenConfig::defaults(variant);
  return hp;
}

ModelHparams ModelHparams::from_json(const nlohmann::json& j, Variant variant) {
  CHATTERD_CHECK(j.is_object(), ModelFormatError, "hparams: expected a JSON object, got {}",
                 j.type_name());
  ModelHparams hp = defaults(variant);
  auto component = [&](const char* key) -> const nlohmann::json* {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return nullptr;
    return &*it;
  };
  if (const auto* c = component("t3")) hp.t3 = T3Config::from_json(*c, hp.t3);
  if (const auto* c = component("ve")) hp.ve = VoiceEncoderConfig::from_json(*c, hp.ve);
  if (const auto* c = component("s3gen")) hp.s3gen = S3GenConfig::from_json(*c, hp.s3gen);
  if (const auto* c = component("campplus"))
    hp.campplus = CampPlusConfig::from_json(*c, hp.campplus);
  if (const auto* c = component("s3tokenizer")) {
    hp.s3tokenizer = S3TokenizerConfig::from_json(*c, hp.s3tokenizer);
  }
  return hp;
}

std::vector<std::string> ModelHparams::validate() const {
  std::vector<std::string> all;
  auto add = [&](const char* name, const std::vector<std::string>& problems) {
    for (const auto& p : problems) all.push_back(fmt::format("{}: {}", name, p));
  };
  add("t3", t3.validate());
  add("ve", ve.validate());
  add("s3gen", s3gen.validate());
  add("campplus", campplus.validate());
  add("s3tokenizer", s3tokenizer.validate());
  if (t3.speaker_embed_size != ve.embed_size) {
    all.push_back(fmt::format("t3.speaker_embed_size {} != ve.embed_size {}", t3.speaker_embed_size,
                              ve.embed_size));
  }
  if (s3gen.spk_embed_dim != campplus.embedding_size) {
    all.push_back(fmt::format("s3gen.spk_embed_dim {} != campplus.embedding_size {}",
                              s3gen.spk_embed_dim, campplus.embedding_size));
  }
  return all;
}

std::string ModelHparams::to_string() const {
  return fmt::format("ModelHparams{{variant={}\n  {}\n  {}\n  {}\n  {}\n  {}}}",
                     variant_name(variant), t3.to_string(), ve.to_string(), s3gen.to_string(),
                     campplus.to_string(), s3tokenizer.to_string());
}

ModelHparams load_hparams(const std::filesystem::path& dir, Variant variant) {
  const auto path = dir / kHparamsFileName;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return ModelHparams::defaults(variant);
  std::ifstream in(path);
  CHATTERD_CHECK(in.good(), IoError, "{}: cannot open", path.string());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    CHATTERD_THROW(ModelFormatError, "{}: not valid JSON: {}", path.string(), e.what());
  }
  try {
    return ModelHparams::from_json(j, variant);
  } catch (const ModelFormatError& e) {
    CHATTERD_THROW(ModelFormatError, "{}: {}", path.string(), e.what());
  }
}

std::vector<TensorSpec> s3gen_file_tensor_specs(const ModelHparams& hp) {
  std::vector<TensorSpec> specs = s3tokenizer_tensor_specs(hp.s3tokenizer);
  for (auto part : {campplus_tensor_specs(hp.campplus), s3gen_flow_tensor_specs(hp.s3gen),
                    hift_tensor_specs(hp.s3gen)}) {
    specs.insert(specs.end(), std::make_move_iterator(part.begin()),
                 std::make_move_iterator(part.end()));
  }
  return specs;
}

}  // namespace chatterd
