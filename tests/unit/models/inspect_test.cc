#include "models/inspect.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "chatterd/core/error.h"
#include "fixture_dirs.h"

namespace chatterd {
namespace {

namespace fs = std::filesystem;

fs::path copy_fixture(const std::string& name) {
  const fs::path dst =
      fs::temp_directory_path() / ("chatterd_inspect_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dst);
  fs::copy(test::kFixturesDir / name, dst, fs::copy_options::recursive);
  return dst;
}

TEST(Inspect, EveryFixtureDirectoryIsClean) {
  for (const char* name : {"turbo-tiny", "english-tiny", "multilingual-tiny"}) {
    const InspectReport r = inspect_model_dir(test::kFixturesDir / name);
    EXPECT_TRUE(r.ok()) << r.to_string(false);
    EXPECT_FALSE(r.files.empty()) << name;
    for (const InspectedFile& f : r.files) EXPECT_TRUE(f.error.empty()) << f.error;
  }
  const InspectReport turbo = inspect_model_dir(test::kFixturesDir / "turbo-tiny");
  EXPECT_EQ(turbo.variant, Variant::Turbo);
  EXPECT_TRUE(turbo.missing_files.empty());
  const std::string text = turbo.to_string();
  EXPECT_NE(text.find("tfmr.wpe.weight"), std::string::npos);
  EXPECT_NE(text.find("50276 tokens"), std::string::npos);
  const InspectReport mtl = inspect_model_dir(test::kFixturesDir / "multilingual-tiny");
  EXPECT_FALSE(mtl.missing_files.empty());  // no s3gen.pt in the fixture: reported, not fatal
}

TEST(Inspect, TruncatedFileFailsNamingIt) {
  const fs::path dir = copy_fixture("turbo-tiny");
  const fs::path t3 = dir / "t3_turbo_v1.safetensors";
  fs::resize_file(t3, fs::file_size(t3) / 2);
  const InspectReport r = inspect_model_dir(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors.front().find("t3_turbo_v1.safetensors"), std::string::npos)
      << r.errors.front();
  fs::remove_all(dir);
}

TEST(Inspect, CorruptPickleFailsNamingIt) {
  const fs::path dir = copy_fixture("english-tiny");
  {
    std::ofstream f(dir / "conds.pt", std::ios::binary | std::ios::trunc);
    f << "PK\x03\x04 definitely not a zip";
  }
  const InspectReport r = inspect_model_dir(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors.front().find("conds.pt"), std::string::npos) << r.errors.front();
  fs::remove_all(dir);
}

TEST(Inspect, HparamsThatDoNotMatchTheWeightsAreReported) {
  const fs::path dir = copy_fixture("turbo-tiny");
  std::string json;
  {
    std::ifstream in(dir / "hparams.json");
    std::stringstream ss;
    ss << in.rdbuf();
    json = ss.str();
  }
  // Claim one more layer than the checkpoint has.
  const std::string from = "\"num_layers\": 2";
  const auto pos = json.find(from);
  ASSERT_NE(pos, std::string::npos);
  json.replace(pos, from.size(), "\"num_layers\": 3");
  {
    std::ofstream out(dir / "hparams.json", std::ios::trunc);
    out << json;
  }
  const InspectReport r = inspect_model_dir(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.to_string(false).find("tfmr.h.2"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Inspect, NotADirectory) {
  EXPECT_THROW((void)inspect_model_dir(test::kFixturesDir / "no-such-dir"), IoError);
}

}  // namespace
}  // namespace chatterd
