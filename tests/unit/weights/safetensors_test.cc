#include "weights/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "chatterd/core/error.h"
#include "unit/weights/expect_error.h"
#include "unit/weights/test_files.h"

namespace chatterd {
namespace {

using testing::as_bytes;
using testing::Bytes;
using testing::fixture;
using testing::make_safetensors;
using testing::TempDir;
using testing::write_bytes;

TEST(Safetensors, ReadsFixtureAsZeroCopyViews) {
  auto f = SafetensorsFile::open(fixture("turbo-tiny/ve.safetensors"));
  ASSERT_FALSE(f->tensors().empty());
  EXPECT_TRUE(f->contains("proj.weight"));
  EXPECT_FALSE(f->contains("nope"));
  Tensor w = f->get("proj.weight");
  EXPECT_EQ(w.dtype(), DType::F32);
  EXPECT_EQ(w.rank(), 2);
  EXPECT_EQ(w.dim(0), 256);
  EXPECT_FALSE(w.owns_storage());
  // The view keeps the mapping alive after the reader is gone.
  std::vector<float> before(w.data<float>(), w.data<float>() + w.numel());
  f.reset();
  EXPECT_EQ(0, std::memcmp(before.data(), w.data<float>(), before.size() * sizeof(float)));
}

TEST(Safetensors, ListsTensorsInFileOrderAndExposesMetadata) {
  TempDir dir;
  const std::vector<float> a = {1, 2, 3};
  const std::vector<std::int64_t> b = {7, -8};
  Bytes data = as_bytes(b);
  const Bytes ab = as_bytes(a);
  data.insert(data.end(), ab.begin(), ab.end());
  const std::string header =
      R"({"__metadata__":{"k":"v"},"z_first":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},)"
      R"("a_second":{"dtype":"F32","shape":[1,3],"data_offsets":[16,28]},)"
      R"("empty":{"dtype":"F16","shape":[0,4],"data_offsets":[28,28]}})";
  write_bytes(dir / "m.safetensors", make_safetensors(header, data));
  auto f = SafetensorsFile::open(dir / "m.safetensors");
  ASSERT_EQ(f->tensors().size(), 3u);
  EXPECT_EQ(f->tensors()[0].name, "z_first");
  EXPECT_EQ(f->tensors()[1].name, "a_second");
  EXPECT_EQ(f->metadata().at("k"), "v");
  Tensor tb = f->get("z_first");
  EXPECT_EQ(tb.data<std::int64_t>()[1], -8);
  Tensor ta = f->get("a_second");
  EXPECT_EQ((ta.shape()), (Shape{1, 3}));
  EXPECT_EQ(ta.data<float>()[2], 3.0f);
  EXPECT_EQ(f->get("empty").numel(), 0);
  EXPECT_ERROR_WITH((void)f->get("missing"), ModelFormatError, {"m.safetensors", "missing"});
}

TEST(Safetensors, UnalignedTensorIsCopiedNotMisread) {
  TempDir dir;
  const std::vector<float> a = {1.5f, -2.5f};
  Bytes data(1, std::byte{0});
  const Bytes ab = as_bytes(a);
  data.insert(data.end(), ab.begin(), ab.end());
  // Header of 8 + 8 bytes keeps the data section 8-aligned, so offset 1 is misaligned for f32.
  std::string header =
      R"({"pad":{"dtype":"I8","shape":[1],"data_offsets":[0,1]},"x":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  write_bytes(dir / "u.safetensors", make_safetensors(header, data));
  auto f = SafetensorsFile::open(dir / "u.safetensors");
  Tensor x = f->get("x");
  EXPECT_TRUE(x.owns_storage());
  EXPECT_EQ(x.data<float>()[0], 1.5f);
  EXPECT_EQ(x.data<float>()[1], -2.5f);
  EXPECT_FALSE(f->get("pad").owns_storage());
}

TEST(Safetensors, ForeignDtypesOpenButCannotBeRead) {
  // The turbo cond-pipeline golden stores two F64 scalars next to its F32 tensors.
  auto f = SafetensorsFile::open(fixture("turbo-tiny/golden/cond_pipeline.safetensors"));
  EXPECT_EQ(f->unsupported().at("loudness/lufs"), "F64");
  EXPECT_FALSE(f->contains("loudness/lufs"));
  for (const TensorInfo& t : f->tensors()) EXPECT_NE(t.name, "loudness/lufs");
  EXPECT_ERROR_WITH((void)f->get("loudness/lufs"), ModelFormatError,
                    {"cond_pipeline.safetensors", "loudness/lufs", "F64"});
  EXPECT_EQ(f->get("gen/embedding").dtype(), DType::F32);
}

TEST(Safetensors, MissingFileIsIoError) {
  EXPECT_ERROR_WITH((void)SafetensorsFile::open("/nonexistent/dir/w.safetensors"), IoError,
                    {"w.safetensors"});
}

TEST(Safetensors, OpenTensorFileDispatchesOnContent) {
  auto f = open_tensor_file(fixture("english-tiny/ve.safetensors"));
  EXPECT_TRUE(f->contains("proj.weight"));
  auto pt = open_tensor_file(fixture("multilingual-tiny/ve.pt"));
  EXPECT_TRUE(pt->contains("proj.weight"));
}

// One corrupt file per case: (file bytes, substrings the message must hold besides the name).
struct Corrupt {
  const char* label;
  Bytes bytes;
  std::vector<std::string> expect;
};

std::vector<Corrupt> corrupt_cases() {
  const Bytes data16(16, std::byte{0});
  auto st = [&](const std::string& h, const Bytes& d) { return make_safetensors(h, d); };
  std::vector<Corrupt> c;
  c.push_back({"too_short", Bytes(5, std::byte{1}), {"shorter"}});
  Bytes huge;
  testing::put_le(huge, 1ull << 40, 8);
  huge.resize(64, std::byte{' '});
  c.push_back({"huge_header", huge, {"exceeds"}});
  Bytes past;
  testing::put_le(past, 1000, 8);
  testing::put_str(past, "{}");
  c.push_back({"header_past_end", past, {"past the end"}});
  c.push_back({"not_json", st("{not json", data16), {"not valid JSON"}});
  c.push_back({"json_array", st("[1,2]", data16), {"not an object"}});
  c.push_back({"overlap",
               st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                  data16),
               {"'a'", "'b'", "overlap"}});
  c.push_back({"overlap_hidden_by_empty",
               st(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                  R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                  R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                  data16),
               {"'a'", "'b'", "overlap"}});
  c.push_back({"past_end",
               st(R"({"w":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", data16),
               {"'w'", "outside"}});
  c.push_back({"begin_after_end",
               st(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", data16),
               {"'w'"}});
  c.push_back({"length_mismatch",
               st(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", data16),
               {"'w'", "needs 12 bytes"}});
  c.push_back({"unknown_dtype",
               st(R"({"w":{"dtype":"F99","shape":[2],"data_offsets":[0,16]}})", data16),
               {"'w'", "F99"}});
  c.push_back({"foreign_dtype_length",
               st(R"({"w":{"dtype":"F64","shape":[3],"data_offsets":[0,16]}})", data16),
               {"'w'", "needs 24 bytes"}});
  c.push_back({"overlap_with_foreign",
               st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("d":{"dtype":"F64","shape":[1],"data_offsets":[4,12]}})",
                  data16),
               {"'a'", "'d'", "overlap"}});
  c.push_back({"negative_dim",
               st(R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", data16),
               {"'w'", "-4"}});
  c.push_back({"float_dim",
               st(R"({"w":{"dtype":"F32","shape":[4.0],"data_offsets":[0,16]}})", data16),
               {"'w'"}});
  c.push_back(
      {"overflow_shape",
       st(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}})",
          data16),
       {"'w'", "overflows"}});
  c.push_back(
      {"rank_9",
       st(R"({"w":{"dtype":"I8","shape":[1,1,1,1,1,1,1,1,16],"data_offsets":[0,16]}})", data16),
       {"'w'", "rank"}});
  c.push_back({"missing_dtype",
               st(R"({"w":{"shape":[4],"data_offsets":[0,16]}})", data16),
               {"'w'", "dtype"}});
  c.push_back({"offsets_wrong_type",
               st(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":"0,16"}})", data16),
               {"'w'", "data_offsets"}});
  c.push_back({"metadata_not_string", st(R"({"__metadata__":{"k":1}})", data16), {"'k'"}});
  return c;
}

TEST(Safetensors, RejectsCorruptFilesWithTypedErrorsNamingFileAndTensor) {
  TempDir dir;
  for (Corrupt& c : corrupt_cases()) {
    SCOPED_TRACE(c.label);
    const std::string name = std::string(c.label) + ".safetensors";
    write_bytes(dir / name, c.bytes);
    std::vector<std::string> expect = c.expect;
    expect.push_back(name);
    try {
      (void)SafetensorsFile::open(dir / name);
      ADD_FAILURE() << "no error";
    } catch (const ModelFormatError& e) {
      for (const std::string& s : expect) {
        EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << s << " / " << e.what();
      }
    }
  }
}

TEST(Safetensors, TruncatedFixtureIsRejected) {
  TempDir dir;
  Bytes b = testing::read_bytes(fixture("turbo-tiny/ve.safetensors"));
  b.resize(b.size() - 100);
  write_bytes(dir / "cut.safetensors", b);
  EXPECT_ERROR_WITH((void)SafetensorsFile::open(dir / "cut.safetensors"), ModelFormatError,
                    {"cut.safetensors", "outside"});
}

}  // namespace
}  // namespace chatterd
