#include "weights/weight_store.h"

#include <gtest/gtest.h>

#include <string>

#include "chatterd/core/error.h"
#include "chatterd/core/half.h"
#include "fixture_dirs.h"

namespace chatterd {
namespace {

TEST(WeightStore, ChecksShapesNamesAndTracksUse) {
  auto store = WeightStore::open(test::kFixturesDir.string() + "/turbo-tiny/ve.safetensors");
  const Tensor w = store->get("proj.bias", Shape{256});
  EXPECT_EQ(w.dtype(), DType::F32);
  try {
    (void)store->get("proj.bias", Shape{255});
    FAIL();
  } catch (const ModelFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("proj.bias"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("ve.safetensors"), std::string::npos);
  }
  EXPECT_THROW((void)store->get("nope", Shape{1}), ModelFormatError);
  const auto unused = store->unused();
  EXPECT_EQ(std::count(unused.begin(), unused.end(), "proj.bias"), 0);
  EXPECT_EQ(std::count(unused.begin(), unused.end(), "proj.weight"), 1);
}

TEST(WeightStore, GetF32ConvertsHalfTables) {
  Tensor h = Tensor::empty({2, 2}, DType::F16);
  for (int i = 0; i < 4; ++i) h.data<Half>()[i] = float_to_half(0.5f * static_cast<float>(i));
  std::map<std::string, Tensor, std::less<>> m;
  m.emplace("t", h);
  auto store = WeightStore::from_tensors(std::move(m), "memory");
  const Tensor f = store->get_f32("t", Shape{2, 2});
  ASSERT_EQ(f.dtype(), DType::F32);
  EXPECT_EQ(f.data<float>()[3], 1.5f);
  EXPECT_EQ(store->get("t", Shape{2, 2}).dtype(), DType::F16);
}

}  // namespace
}  // namespace chatterd
