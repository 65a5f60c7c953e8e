#include "models/t3/t3_config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "chatterd/core/error.h"
#include "models/voice/voice_encoder_config.h"
#include "unit/models/fixture_util.h"

namespace chatterd {
namespace {

struct ManifestCase {
  const char* file;
  Variant variant;
};

constexpr ManifestCase kT3Manifests[] = {
    {"t3_turbo_v1.json", Variant::Turbo},
    {"t3_nano_v1.json", Variant::Nano},
    {"t3_cfg.json", Variant::English},
    {"t3_mtl23ls_v2.json", Variant::MultilingualV2},
    {"t3_mtl23ls_v3.json", Variant::MultilingualV3},
};

nlohmann::json manifest(const char* file) {
  return test::load_json(test::fixtures_dir() / "manifests" / file);
}

TEST(T3Config, DefaultsMatchEveryManifestExactly) {
  for (const auto& c : kT3Manifests) {
    SCOPED_TRACE(c.file);
    const auto m = manifest(c.file);
    const auto specs = t3_tensor_specs(T3Config::defaults(c.variant));
    test::expect_same_order(test::without_checkpoint_only(specs), test::manifest_list(m, "keys"),
                            c.file);
    test::expect_same_order(test::only_checkpoint_only(specs),
                            test::manifest_list(m, "checkpoint_only_keys"),
                            std::string(c.file) + " checkpoint_only_keys");
    EXPECT_EQ(count_params(specs).params, m.at("num_params").get<std::int64_t>());
    // Everything the manifest calls unused is flagged unused.
    for (const auto& name : m.at("unused_at_inference")) {
      bool found = false;
      for (const auto& s : specs) {
        if (s.name == name.get<std::string>()) {
          EXPECT_FALSE(s.used_at_inference) << s.name;
          found = true;
        }
      }
      EXPECT_TRUE(found) << name;
    }
  }
}

TEST(T3Config, ManifestHparamsParseToTheDefaults) {
  for (const auto& c : kT3Manifests) {
    SCOPED_TRACE(c.file);
    const auto hp = manifest(c.file).at("hparams");
    // From the English defaults: the JSON alone must carry every structural field.
    const T3Config parsed = T3Config::from_json(hp, T3Config{});
    const T3Config def = T3Config::defaults(c.variant);
    EXPECT_EQ(parsed.backbone, def.backbone);
    test::expect_same_order(
        t3_tensor_specs(def),
        [&] {
          std::vector<TensorInfo> v;
          for (const auto& s : t3_tensor_specs(parsed)) {
            v.push_back({s.name, DType::F32, s.shape});
          }
          return v;
        }(),
        c.file);
    EXPECT_EQ(parsed.norm_eps, def.norm_eps);
    EXPECT_EQ(parsed.rope_theta, def.rope_theta);
    EXPECT_EQ(parsed.rope_scaling.enabled, def.rope_scaling.enabled);
    EXPECT_EQ(parsed.rope_scaling.factor, def.rope_scaling.factor);
    EXPECT_EQ(parsed.speech_cond_prompt_len, def.speech_cond_prompt_len);
    EXPECT_EQ(parsed.is_multilingual, def.is_multilingual);
    EXPECT_EQ(parsed.stop_speech_token, def.stop_speech_token);
    // With its own variant's base the generate() defaults survive too (nano's manifest only says
    // "same as turbo").
    const T3Config own = T3Config::from_json(hp, def);
    EXPECT_EQ(own.generate.temperature, def.generate.temperature);
    EXPECT_EQ(own.generate.top_k, def.generate.top_k);
    EXPECT_EQ(own.generate.top_p, def.generate.top_p);
    EXPECT_EQ(own.generate.min_p, def.generate.min_p);
    EXPECT_EQ(own.generate.repetition_penalty, def.generate.repetition_penalty);
    EXPECT_EQ(own.generate.cfg_weight, def.generate.cfg_weight);
    EXPECT_EQ(own.generate.max_new_tokens, def.generate.max_new_tokens);
  }
}

TEST(T3Config, GenerateDefaultsPerFamily) {
  const auto en = T3Config::defaults(Variant::English).generate;
  EXPECT_FLOAT_EQ(en.temperature, 0.8f);
  EXPECT_FLOAT_EQ(en.min_p, 0.05f);
  EXPECT_FLOAT_EQ(en.top_p, 1.0f);
  EXPECT_FLOAT_EQ(en.cfg_weight, 0.5f);
  EXPECT_EQ(en.top_k, 0);
  const auto tu = T3Config::defaults(Variant::Turbo).generate;
  EXPECT_EQ(tu.top_k, 1000);
  EXPECT_FLOAT_EQ(tu.top_p, 0.95f);
  EXPECT_FLOAT_EQ(tu.cfg_weight, 0.0f);
  EXPECT_FLOAT_EQ(tu.repetition_penalty, 1.2f);
}

struct TinyCase {
  const char* dir;
  const char* t3_file;
  Variant variant;
};

constexpr TinyCase kTiny[] = {
    {"turbo-tiny", "t3_turbo_v1.safetensors", Variant::Turbo},
    {"english-tiny", "t3_cfg.safetensors", Variant::English},
    {"multilingual-tiny", "t3_mtl23ls_v2.safetensors", Variant::MultilingualV2},
};

TEST(T3Config, TinyHparamsGiveExactlyTheTinyFileTensors) {
  for (const auto& c : kTiny) {
    SCOPED_TRACE(c.dir);
    const auto dir = test::fixtures_dir() / c.dir;
    const auto hp = test::load_json(dir / "hparams.json").at("t3");
    const T3Config cfg = T3Config::from_json(hp, T3Config::defaults(c.variant));
    const auto specs = t3_tensor_specs(cfg);
    const auto file = test::read_safetensors_header(dir / c.t3_file);
    test::expect_same_set(specs, file, c.t3_file);
    // F16 tables and F32 weights are all acceptable: no finding at all.
    const auto findings = compare_tensors(c.t3_file, specs, file);
    for (const auto& f : findings) ADD_FAILURE() << f.message;
  }
}

TEST(T3Config, ValidateCollectsEveryProblem) {
  T3Config c;
  EXPECT_TRUE(c.validate().empty());
  c.hidden_size = -4;
  c.num_kv_heads = 5;
  c.generate.top_p = 1.5f;
  const auto problems = c.validate();
  EXPECT_GE(problems.size(), 3u);
  EXPECT_THROW(t3_tensor_specs(c), InvalidArgument);

  T3Config g = T3Config::defaults(Variant::Turbo);
  EXPECT_TRUE(g.validate().empty());
  g.num_heads = 7;  // 7 x 64 != 1024
  g.num_kv_heads = 7;
  ASSERT_EQ(g.validate().size(), 1u);
  EXPECT_NE(g.validate()[0].find("head_dim"), std::string::npos);
}

TEST(T3Config, FromJsonRejectsWrongTypesAndInvalidValues) {
  const T3Config base = T3Config::defaults(Variant::English);
  auto expect_error = [&](const nlohmann::json& j, const std::string& needle) {
    try {
      T3Config::from_json(j, base);
      ADD_FAILURE() << "no error for " << j.dump();
    } catch (const ModelFormatError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({{"backbone", {{"hidden_size", "big"}}}}, "t3.backbone.hidden_size");
  expect_error({{"backbone", {{"hidden_size", 10.5}}}}, "expected an integer");
  expect_error({{"backbone", {{"backbone_type", "mamba"}}}}, "unknown backbone");
  expect_error({{"speech_head_bias", 1}}, "t3.speech_head_bias: expected true or false");
  expect_error({{"backbone", 3}}, "t3.backbone: expected an object");
  expect_error({{"perceiver", {{"num_attn_heads", 3}}}}, "does not divide");
  expect_error({{"speech_tokens_dict_size", -1}}, "speech_vocab_size must be > 0");
  expect_error({{"input_pos_emb", "sinusoidal"}}, "input_pos_emb");
  expect_error({{"n_channels", 512}}, "n_channels");
  expect_error(nlohmann::json::array(), "expected a JSON object");
  // Integers written as floats are fine; absent keys keep the base.
  const T3Config c = T3Config::from_json({{"speech_cond_prompt_len", 100.0}}, base);
  EXPECT_EQ(c.speech_cond_prompt_len, 100);
  EXPECT_EQ(c.hidden_size, 1024);
}

TEST(T3Config, ToStringNamesTheKeyFields) {
  const std::string s = T3Config::defaults(Variant::Turbo).to_string();
  EXPECT_NE(s.find("backbone=gpt2"), std::string::npos) << s;
  EXPECT_NE(s.find("wpe_rows=8196"), std::string::npos) << s;
  const std::string l = T3Config::defaults(Variant::English).to_string();
  EXPECT_NE(l.find("llama3"), std::string::npos) << l;
  EXPECT_NE(l.find("perceiver=(32 queries"), std::string::npos) << l;
}

TEST(VoiceEncoderConfig, DefaultsMatchTheManifest) {
  const auto m = manifest("ve.json");
  const auto specs = voice_encoder_tensor_specs(VoiceEncoderConfig{});
  test::expect_same_order(specs, test::manifest_list(m, "keys"), "ve.json");
  EXPECT_EQ(count_params(specs).params, m.at("num_params").get<std::int64_t>());
  EXPECT_EQ(count_params(specs).params_used, m.at("num_params").get<std::int64_t>() - 2);
  const auto parsed = VoiceEncoderConfig::from_json(m.at("hparams"), VoiceEncoderConfig{});
  EXPECT_EQ(parsed.to_string(), VoiceEncoderConfig{}.to_string());
}

TEST(VoiceEncoderConfig, TinyHparamsGiveExactlyTheTinyFileTensors) {
  for (const char* d : {"turbo-tiny", "english-tiny"}) {
    SCOPED_TRACE(d);
    const auto dir = test::fixtures_dir() / d;
    const auto cfg = VoiceEncoderConfig::from_json(test::load_json(dir / "hparams.json").at("ve"),
                                                   VoiceEncoderConfig{});
    EXPECT_EQ(cfg.hidden_size, 32);
    test::expect_same_set(voice_encoder_tensor_specs(cfg),
                          test::read_safetensors_header(dir / "ve.safetensors"), d);
  }
}

TEST(VoiceEncoderConfig, RejectsBadValues) {
  EXPECT_THROW(VoiceEncoderConfig::from_json({{"lstm", {{"num_layers", 0}}}}, VoiceEncoderConfig{}),
               ModelFormatError);
  EXPECT_THROW(VoiceEncoderConfig::from_json({{"proj", {{"in", 7}}}}, VoiceEncoderConfig{}),
               ModelFormatError);
  EXPECT_THROW(
      VoiceEncoderConfig::from_json({{"config", {{"n_fft", "400"}}}}, VoiceEncoderConfig{}),
      ModelFormatError);
}

}  // namespace
}  // namespace chatterd
