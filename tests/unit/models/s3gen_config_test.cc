#include "models/s3gen/s3gen_config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "chatterd/core/error.h"
#include "unit/models/fixture_util.h"

namespace chatterd {
namespace {

std::vector<TensorSpec> flow_and_hift(const S3GenConfig& c) {
  auto specs = s3gen_flow_tensor_specs(c);
  const auto hift = hift_tensor_specs(c);
  specs.insert(specs.end(), hift.begin(), hift.end());
  return specs;
}

std::vector<TensorInfo> with_prefixes(const std::vector<TensorInfo>& all,
                                      std::initializer_list<const char*> prefixes) {
  std::vector<TensorInfo> out;
  for (const auto& t : all) {
    for (const char* p : prefixes) {
      if (t.name.starts_with(p)) {
        out.push_back(t);
        break;
      }
    }
  }
  return out;
}

struct S3GenConfigCase {
  const char* manifest;
  Variant variant;
};

constexpr S3GenConfigCase kManifests[] = {{"s3gen_meanflow.json", Variant::Turbo},
                                          {"s3gen.json", Variant::English}};

TEST(S3GenConfig, FlowAndHiftMatchTheManifestsExactly) {
  for (const auto& c : kManifests) {
    SCOPED_TRACE(c.manifest);
    const auto m = test::load_json(test::fixtures_dir() / "manifests" / c.manifest);
    const auto keys = test::manifest_list(m, "keys");
    const auto def = S3GenConfig::defaults(c.variant);
    test::expect_same_order(s3gen_flow_tensor_specs(def), with_prefixes(keys, {"flow."}), "flow");
    test::expect_same_order(hift_tensor_specs(def), with_prefixes(keys, {"mel2wav."}), "mel2wav");
    // The manifest's own hparams parse to the same structure from a default of the other kind.
    const auto other =
        S3GenConfig::defaults(c.variant == Variant::Turbo ? Variant::English : Variant::Turbo);
    const auto parsed = S3GenConfig::from_json(m.at("hparams"), other);
    EXPECT_EQ(parsed.to_string(), def.to_string());
    // Section parameter counts agree.
    const auto& sections = m.at("sections");
    EXPECT_EQ(count_params(filter_prefix(s3gen_flow_tensor_specs(def), "flow.encoder.")).params,
              sections.at("flow.encoder").at("params").get<std::int64_t>());
    EXPECT_EQ(count_params(filter_prefix(s3gen_flow_tensor_specs(def), "flow.decoder.")).params,
              sections.at("flow.decoder").at("params").get<std::int64_t>());
  }
}

TEST(S3GenConfig, VariantDefaults) {
  EXPECT_TRUE(S3GenConfig::defaults(Variant::Nano).meanflow);
  EXPECT_EQ(S3GenConfig::defaults(Variant::Turbo).n_cfm_timesteps, 2);
  EXPECT_FALSE(S3GenConfig::defaults(Variant::MultilingualV3).meanflow);
  EXPECT_EQ(S3GenConfig::defaults(Variant::English).n_cfm_timesteps, 10);
}

TEST(S3GenConfig, TinyHparamsGiveExactlyTheTinyFlowAndHiftTensors) {
  for (const auto& [dir_name, file, variant] :
       {std::tuple{"turbo-tiny", "s3gen_meanflow.safetensors", Variant::Turbo},
        std::tuple{"english-tiny", "s3gen.safetensors", Variant::English}}) {
    SCOPED_TRACE(dir_name);
    const auto dir = test::fixtures_dir() / dir_name;
    const auto cfg = S3GenConfig::from_json(test::load_json(dir / "hparams.json").at("s3gen"),
                                            S3GenConfig::defaults(variant));
    EXPECT_EQ(cfg.hift.nb_harmonics, 3);
    EXPECT_EQ(cfg.encoder.output_size, 32);
    const auto actual =
        with_prefixes(test::read_safetensors_header(dir / file), {"flow.", "mel2wav."});
    test::expect_same_set(flow_and_hift(cfg), actual, file);
  }
}

TEST(S3GenConfig, RejectsInvalidJson) {
  const auto base = S3GenConfig::defaults(Variant::Turbo);
  auto expect_error = [&](const nlohmann::json& j, const std::string& needle) {
    try {
      S3GenConfig::from_json(j, base);
      ADD_FAILURE() << "no error for " << j.dump();
    } catch (const ModelFormatError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({{"encoder", {{"ctor_args", {{"attention_heads", 7}}}}}}, "does not divide");
  expect_error({{"estimator", {{"ctor_args", {{"channels", {256, 256}}}}}}}, "one-level");
  expect_error({{"estimator", {{"ctor_args", {{"meanflow", false}}}}}}, "disagrees");
  expect_error({{"hift", {{"ctor_args", {{"upsample_rates", {8, 5}}}}}}}, "upsample_kernel_sizes");
  expect_error({{"hift", {{"ctor_args", {{"upsample_rates", "8,5,3"}}}}}},
               "s3gen.hift.ctor_args.upsample_rates");
  expect_error({{"encoder", {{"ctor_args", {{"use_cnn_module", true}}}}}}, "not supported");
  expect_error({{"meanflow", "yes"}}, "s3gen.meanflow");
}

TEST(S3GenConfig, ValidateCollectsProblems) {
  S3GenConfig c;
  EXPECT_TRUE(c.validate().empty()) << c.to_string();
  c.hift.base_channels = 100;  // not divisible by 8
  c.encoder.num_blocks = 0;
  EXPECT_EQ(c.validate().size(), 2u);
  EXPECT_THROW(hift_tensor_specs(c), InvalidArgument);
}

}  // namespace
}  // namespace chatterd
