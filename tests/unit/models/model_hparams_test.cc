#include "models/model_hparams.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "chatterd/core/error.h"
#include "unit/models/fixture_util.h"

namespace chatterd {
namespace {

nlohmann::json manifest(const char* file) {
  return test::load_json(test::fixtures_dir() / "manifests" / file);
}

TEST(CampPlusConfig, DefaultsMatchTheManifestExactly) {
  const auto m = manifest("campplus.json");
  const auto specs = campplus_tensor_specs(CampPlusConfig{});
  test::expect_same_order(specs, test::manifest_list(m, "keys"), "campplus.json");
  EXPECT_EQ(count_params(specs).params, m.at("num_params").get<std::int64_t>());
  // The I64 buffers are flagged integer and unused.
  for (const auto& s : specs) {
    const bool counter = s.name.ends_with("num_batches_tracked");
    EXPECT_EQ(s.kind == TensorKind::Integer, counter) << s.name;
    if (counter) {
      EXPECT_FALSE(s.used_at_inference) << s.name;
    }
  }
  const auto parsed = CampPlusConfig::from_json(m.at("hparams"), CampPlusConfig{});
  EXPECT_EQ(parsed.to_string(), CampPlusConfig{}.to_string());
}

TEST(S3TokenizerConfig, DefaultsMatchTheManifestExactly) {
  const auto m = manifest("s3tokenizer.json");
  const auto specs = s3tokenizer_tensor_specs(S3TokenizerConfig{});
  test::expect_same_order(specs, test::manifest_list(m, "keys"), "s3tokenizer.json");
  EXPECT_EQ(count_params(specs).params, m.at("num_params").get<std::int64_t>());
  EXPECT_EQ(specs[0].presence, TensorPresence::Optional);
  EXPECT_EQ(specs[1].presence, TensorPresence::Optional);
  const auto parsed = S3TokenizerConfig::from_json(m.at("hparams"), S3TokenizerConfig{});
  EXPECT_EQ(parsed.to_string(), S3TokenizerConfig{}.to_string());
}

TEST(ModelHparams, S3GenFileSpecsMatchTheFullManifests) {
  for (const auto& [file, variant] : {std::pair{"s3gen_meanflow.json", Variant::Turbo},
                                      std::pair{"s3gen.json", Variant::English}}) {
    SCOPED_TRACE(file);
    const auto m = manifest(file);
    const auto specs = s3gen_file_tensor_specs(ModelHparams::defaults(variant));
    test::expect_same_order(specs, test::manifest_list(m, "keys"), file);
    EXPECT_EQ(count_params(specs).params, m.at("num_params").get<std::int64_t>());
    EXPECT_EQ(static_cast<std::int64_t>(specs.size()), m.at("num_tensors").get<std::int64_t>());
  }
}

TEST(ModelHparams, CondTinyEncodersMatchTheirFile) {
  const auto hp = load_hparams(test::fixtures_dir() / "turbo-tiny", Variant::Turbo);
  EXPECT_EQ(hp.campplus.growth_rate, 4);
  EXPECT_EQ(hp.s3tokenizer.n_audio_state, 64);
  auto specs = s3tokenizer_tensor_specs(hp.s3tokenizer);
  const auto cam = campplus_tensor_specs(hp.campplus);
  specs.insert(specs.end(), cam.begin(), cam.end());
  test::expect_same_set(specs,
                        test::read_safetensors_header(test::fixtures_dir() / "cond-tiny" /
                                                      "s3gen_cond_encoders.safetensors"),
                        "s3gen_cond_encoders.safetensors");
}

TEST(ModelHparams, TinyS3GenFilesMatchExactlyWithNoFindings) {
  for (const auto& [dir_name, file, variant] :
       {std::tuple{"turbo-tiny", "s3gen_meanflow.safetensors", Variant::Turbo},
        std::tuple{"english-tiny", "s3gen.safetensors", Variant::English}}) {
    SCOPED_TRACE(dir_name);
    const auto dir = test::fixtures_dir() / dir_name;
    const auto hp = load_hparams(dir, variant);
    EXPECT_TRUE(hp.validate().empty());
    const auto specs = s3gen_file_tensor_specs(hp);
    const auto actual = test::read_safetensors_header(dir / file);
    test::expect_same_set(specs, actual, file);
    for (const auto& f : compare_tensors(file, specs, actual)) ADD_FAILURE() << f.message;
  }
}

TEST(ModelHparams, LoadWithoutHparamsFileGivesDefaults) {
  const auto dir = std::filesystem::temp_directory_path() / "chatterd_hparams_none";
  std::filesystem::create_directories(dir);
  const auto hp = load_hparams(dir, Variant::Nano);
  EXPECT_EQ(hp.t3.hidden_size, 768);
  EXPECT_TRUE(hp.s3gen.meanflow);
  EXPECT_TRUE(hp.validate().empty());
  std::filesystem::remove_all(dir);
}

TEST(ModelHparams, LoadReportsTheFileOnBadContent) {
  const auto dir = std::filesystem::temp_directory_path() / "chatterd_hparams_bad";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "hparams.json") << "{\"t3\": {\"backbone\": {\"num_heads\": \"x\"}}}";
  try {
    load_hparams(dir, Variant::English);
    ADD_FAILURE() << "expected ModelFormatError";
  } catch (const ModelFormatError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("hparams.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("t3.backbone.num_heads"), std::string::npos) << msg;
  }
  std::ofstream(dir / "hparams.json") << "{not json";
  EXPECT_THROW(load_hparams(dir, Variant::English), ModelFormatError);
  std::filesystem::remove_all(dir);
}

TEST(ModelHparams, MultilingualTinyOverridesOnlyWhatItHas) {
  // multilingual-tiny has no s3gen object: the S3Gen part keeps the real defaults.
  const auto hp = load_hparams(test::fixtures_dir() / "multilingual-tiny", Variant::MultilingualV2);
  EXPECT_EQ(hp.t3.hidden_size, 16);
  EXPECT_EQ(hp.s3gen.encoder.output_size, 512);
  EXPECT_FALSE(hp.s3gen.meanflow);
  EXPECT_NE(hp.to_string().find("variant=multilingual-v2"), std::string::npos);
}

TEST(ModelHparams, CrossComponentChecks) {
  auto hp = ModelHparams::defaults(Variant::English);
  hp.ve.embed_size = 128;
  const auto problems = hp.validate();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("speaker_embed_size"), std::string::npos);
}

}  // namespace
}  // namespace chatterd
