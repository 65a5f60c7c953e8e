#include "models/variant.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>

#include "chatterd/core/error.h"
#include "models/model_dir.h"
#include "unit/models/fixture_util.h"

namespace chatterd {
namespace {

namespace fs = std::filesystem;

// A fresh temporary directory holding empty files with the given names.
class TempDir {
 public:
  explicit TempDir(std::initializer_list<const char*> files) {
    path_ =
        fs::temp_directory_path() /
        ("chatterd_variant_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
    for (const char* f : files) std::ofstream(path_ / f) << "x";
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(Variant, NamesRoundTrip) {
  for (Variant v : kAllVariants) EXPECT_EQ(parse_variant(variant_name(v)), v);
  EXPECT_EQ(parse_variant("mtl"), Variant::MultilingualV2);
  EXPECT_EQ(parse_variant("mtl-v3"), Variant::MultilingualV3);
  EXPECT_THROW(parse_variant("turbo2"), InvalidArgument);
  EXPECT_TRUE(is_turbo_family(Variant::Nano));
  EXPECT_FALSE(is_turbo_family(Variant::English));
  EXPECT_TRUE(is_multilingual(Variant::MultilingualV3));
}

TEST(Variant, DetectsEachVariantFromItsT3File) {
  for (Variant v : kAllVariants) {
    const std::string name(t3_file_name(v));
    TempDir dir({name.c_str(), "ve.safetensors"});
    EXPECT_EQ(detect_variant(dir.path()), v) << name;
  }
}

TEST(Variant, BothMultilingualRevisionsPreferV2UnlessAsked) {
  TempDir dir({"t3_mtl23ls_v2.safetensors", "t3_mtl23ls_v3.safetensors"});
  EXPECT_EQ(detect_variant(dir.path()), Variant::MultilingualV2);
  EXPECT_EQ(detect_variant(dir.path(), Variant::MultilingualV3), Variant::MultilingualV3);
  EXPECT_THROW(detect_variant(dir.path(), Variant::Turbo), InvalidArgument);
}

TEST(Variant, NoT3FileIsAClearError) {
  TempDir dir({"ve.safetensors", "s3gen.safetensors"});
  try {
    detect_variant(dir.path());
    FAIL() << "expected ModelFormatError";
  } catch (const ModelFormatError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("no T3 checkpoint"), std::string::npos) << msg;
    EXPECT_NE(msg.find("t3_turbo_v1.safetensors"), std::string::npos) << msg;
  }
}

TEST(Variant, SeveralFamiliesAreAmbiguous) {
  TempDir dir({"t3_cfg.safetensors", "t3_mtl23ls_v2.safetensors"});
  try {
    detect_variant(dir.path());
    FAIL() << "expected ModelFormatError";
  } catch (const ModelFormatError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("ambiguous"), std::string::npos) << msg;
    EXPECT_NE(msg.find("t3_cfg.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("t3_mtl23ls_v2.safetensors"), std::string::npos) << msg;
  }
  // The directory still tells which variants it could hold.
  EXPECT_EQ(variants_present(dir.path()),
            (std::vector<Variant>{Variant::English, Variant::MultilingualV2}));
}

TEST(Variant, NotADirectoryIsAnIoError) {
  EXPECT_THROW(detect_variant("/nonexistent/chatterd/model"), IoError);
  EXPECT_THROW(ModelDir::scan("/nonexistent/chatterd/model", Variant::Turbo), IoError);
}

TEST(Variant, DetectsTheTinyFixtures) {
  const auto f = test::fixtures_dir();
  EXPECT_EQ(detect_variant(f / "turbo-tiny"), Variant::Turbo);
  EXPECT_EQ(detect_variant(f / "english-tiny"), Variant::English);
  EXPECT_EQ(detect_variant(f / "multilingual-tiny"), Variant::MultilingualV2);
}

TEST(ModelDir, TurboTinyIsComplete) {
  const ModelDir m = ModelDir::open(test::fixtures_dir() / "turbo-tiny");
  EXPECT_EQ(m.variant(), Variant::Turbo);
  EXPECT_TRUE(m.complete()) << m.to_string();
  EXPECT_EQ(m.find(ModelComponent::S3Gen)->filename(), "s3gen_meanflow.safetensors");
  EXPECT_EQ(m.find(ModelComponent::VoiceEncoder)->filename(), "ve.safetensors");
  EXPECT_EQ(m.find(ModelComponent::Conditionals)->filename(), "conds.pt");
  EXPECT_EQ(m.find(ModelComponent::Hparams)->filename(), "hparams.json");
}

TEST(ModelDir, MissingFilesAreFindingsNotErrors) {
  const auto f = test::fixtures_dir();
  const ModelDir en = ModelDir::open(f / "english-tiny");
  EXPECT_EQ(en.missing_required(), (std::vector<std::string>{"tokenizer.json"}));
  EXPECT_EQ(en.find(ModelComponent::S3Gen)->filename(), "s3gen.safetensors");

  const ModelDir mtl = ModelDir::open(f / "multilingual-tiny");
  EXPECT_EQ(mtl.missing_required(),
            (std::vector<std::string>{"s3gen.pt", "grapheme_mtl_merged_expanded_v1.json"}));
  EXPECT_EQ(mtl.find(ModelComponent::VoiceEncoder)->filename(), "ve.pt");
  EXPECT_FALSE(mtl.find(ModelComponent::Conditionals).has_value());
  const std::string text = mtl.to_string();
  EXPECT_NE(text.find("[missing] s3gen s3gen.pt"), std::string::npos) << text;
  EXPECT_NE(text.find("[absent, optional] conds conds.pt"), std::string::npos) << text;
}

TEST(ModelDir, VoiceEncoderAcceptsEitherFormat) {
  TempDir dir({"t3_cfg.safetensors", "ve.pt"});
  const ModelDir m = ModelDir::open(dir.path());
  EXPECT_EQ(m.find(ModelComponent::VoiceEncoder)->filename(), "ve.pt");
  EXPECT_EQ(m.missing_required(),
            (std::vector<std::string>{"s3gen.safetensors", "tokenizer.json"}));
  TempDir empty({"t3_turbo_v1.safetensors"});
  const auto missing = ModelDir::open(empty.path()).missing_required();
  EXPECT_EQ(missing,
            (std::vector<std::string>{"s3gen_meanflow.safetensors", "ve.safetensors (or ve.pt)",
                                      "vocab.json", "merges.txt", "added_tokens.json"}));
}

}  // namespace
}  // namespace chatterd
