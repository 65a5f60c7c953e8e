#include "models/tensor_spec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace chatterd {
namespace {

std::vector<TensorSpec> sample_specs() {
  TensorSpecList s;
  s.add("wte", {10, 4});
  s.checkpoint_only();
  s.linear("proj", 4, 3);
  s.add("head", {10, 4});
  s.unused();
  s.add("window", {8});
  s.optional();
  s.add("bn.num_batches_tracked", {});
  s.integer();
  return s.take();
}

std::vector<TensorInfo> matching_file() {
  return {{"proj.weight", DType::F16, {4, 3}},
          {"proj.bias", DType::F32, {4}},
          {"head", DType::BF16, {10, 4}},
          {"window", DType::F32, {8}},
          {"bn.num_batches_tracked", DType::I64, {}}};
}

TEST(TensorSpecList, BuildsNamesShapesAndFlags) {
  TensorSpecList s("speaker_encoder.");
  s.conv1d("conv", 8, 4, 3, /*bias=*/false);
  s.layer_norm("ln", 8);
  const auto specs = s.take();
  ASSERT_EQ(specs.size(), 3u);
  EXPECT_EQ(specs[0].name, "speaker_encoder.conv.weight");
  EXPECT_EQ(specs[0].shape, (Shape{8, 4, 3}));
  EXPECT_EQ(specs[2].name, "speaker_encoder.ln.bias");
  const auto all = sample_specs();
  EXPECT_EQ(all[0].presence, TensorPresence::CheckpointOnly);
  EXPECT_FALSE(all[0].used_at_inference);
  EXPECT_FALSE(all[3].used_at_inference);
  EXPECT_EQ(all[4].presence, TensorPresence::Optional);
  EXPECT_EQ(all[5].kind, TensorKind::Integer);
}

TEST(CompareTensors, MatchingFileHasNoFindings) {
  const auto specs = sample_specs();
  EXPECT_TRUE(compare_tensors("m.safetensors", specs, matching_file()).empty());
  // Checkpoint-only present is fine too.
  auto with_wte = matching_file();
  with_wte.push_back({"wte", DType::F32, {10, 4}});
  EXPECT_TRUE(compare_tensors("m.safetensors", specs, with_wte).empty());
}

TEST(CompareTensors, ReportsEveryKindNamingFileAndTensor) {
  const auto specs = sample_specs();
  std::vector<TensorInfo> file = {
      {"proj.weight", DType::F32, {3, 4}},         // transposed
      {"head", DType::I32, {10, 4}},               // integer dtype for a float weight
      {"bn.num_batches_tracked", DType::F32, {}},  // float for an integer buffer
      {"extra", DType::F32, {2}},                  // not expected
      {"wte", DType::F32, {11, 4}},                // checkpoint-only with a wrong shape
  };
  // proj.bias missing (required), window missing (optional).
  const auto f = compare_tensors("t3.safetensors", specs, file);
  ASSERT_EQ(f.size(), 7u);
  EXPECT_EQ(f[0].kind, TensorFindingKind::ShapeMismatch);
  EXPECT_EQ(f[0].tensor, "wte");
  EXPECT_EQ(f[1].kind, TensorFindingKind::ShapeMismatch);
  EXPECT_EQ(f[1].message,
            "t3.safetensors: proj.weight: shape [3, 4] but the config expects [4, 3]");
  EXPECT_EQ(f[2].kind, TensorFindingKind::MissingRequired);
  EXPECT_EQ(f[2].tensor, "proj.bias");
  EXPECT_NE(f[2].message.find("t3.safetensors: proj.bias: missing"), std::string::npos);
  EXPECT_EQ(f[3].kind, TensorFindingKind::DTypeNotAccepted);
  EXPECT_EQ(f[3].tensor, "head");
  EXPECT_EQ(f[4].kind, TensorFindingKind::MissingOptional);
  EXPECT_EQ(f[4].tensor, "window");
  EXPECT_EQ(f[5].kind, TensorFindingKind::DTypeNotAccepted);
  EXPECT_NE(f[5].message.find("expected I64"), std::string::npos) << f[5].message;
  EXPECT_EQ(f[6].kind, TensorFindingKind::Unexpected);
  EXPECT_EQ(f[6].tensor, "extra");
  EXPECT_TRUE(has_errors(f));
  EXPECT_EQ(finding_severity(TensorFindingKind::Unexpected), FindingSeverity::Warning);
  EXPECT_EQ(finding_severity(TensorFindingKind::MissingOptional), FindingSeverity::Note);
}

TEST(CompareTensors, OnlyNotesAndWarningsAreNotErrors) {
  const auto specs = sample_specs();
  auto file = matching_file();
  file.erase(file.begin() + 3);  // window
  file.push_back({"surplus", DType::F32, {1}});
  const auto f = compare_tensors("x", specs, file);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_FALSE(has_errors(f));
}

TEST(CountParams, SplitsUsedAndCheckpointOnly) {
  const auto c = count_params(sample_specs());
  EXPECT_EQ(c.tensors, 5);
  EXPECT_EQ(c.params, 12 + 4 + 40 + 8 + 1);
  EXPECT_EQ(c.params_used, 12 + 4 + 8 + 1);
  EXPECT_EQ(c.params_checkpoint_only, 40);
  EXPECT_EQ(count_params(matching_file()), 12 + 4 + 40 + 8 + 1);
  EXPECT_EQ(filter_prefix(sample_specs(), "proj.").size(), 2u);
}

}  // namespace
}  // namespace chatterd
