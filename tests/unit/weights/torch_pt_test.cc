#include "weights/torch_pt.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "chatterd/core/error.h"
#include "unit/weights/expect_error.h"
#include "unit/weights/test_files.h"
#include "weights/safetensors.h"

namespace chatterd {
namespace {

using testing::as_bytes;
using testing::Bytes;
using testing::fixture;
using testing::PickleWriter;
using testing::TempDir;
using testing::write_bytes;
using testing::ZipWriter;
using K = PickleValue::Kind;

void expect_same(const Tensor& a, const Tensor& b, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  EXPECT_EQ(0, std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()));
}

class CondsPt : public ::testing::TestWithParam<const char*> {};

TEST_P(CondsPt, HoldsTheDocumentedConditionals) {
  const std::string variant = GetParam();
  auto pt = TorchPtFile::open(fixture(variant + "/conds.pt"));
  struct Want {
    const char* name;
    DType dtype;
    Shape shape;
  };
  const std::vector<Want> want = {
      {"t3.speaker_emb", DType::F32, {1, 256}},
      {"t3.cond_prompt_speech_tokens", DType::I64, {1, 150}},
      {"t3.emotion_adv", DType::F32, {1, 1, 1}},
      {"gen.prompt_token", DType::I64, {1, 150}},
      {"gen.prompt_token_len", DType::I64, {1}},
      {"gen.prompt_feat", DType::F32, {1, 300, 80}},
      {"gen.embedding", DType::F32, {1, 192}},
  };
  ASSERT_EQ(pt->tensors().size(), want.size());
  for (const Want& w : want) {
    SCOPED_TRACE(w.name);
    ASSERT_TRUE(pt->contains(w.name));
    const Tensor t = pt->get(w.name);
    EXPECT_EQ(t.dtype(), w.dtype);
    EXPECT_EQ(t.shape(), w.shape);
  }
  // torch aligns storages to 64 bytes, so contiguous tensors are zero-copy views; prompt_feat was
  // saved as a transpose (mel.transpose(1, 2)) and comes back as a contiguous copy.
  EXPECT_FALSE(pt->get("gen.embedding").owns_storage());
  EXPECT_TRUE(pt->get("gen.prompt_feat").owns_storage());
  EXPECT_EQ(pt->get("t3.emotion_adv").data<float>()[0], 0.5f);
  for (const char* none : {"t3.clap_emb", "t3.cond_prompt_speech_emb", "gen.prompt_feat_len"}) {
    ASSERT_EQ(pt->values().count(none), 1u) << none;
    EXPECT_TRUE(pt->values().at(none)->is(K::None)) << none;
  }
  EXPECT_TRUE(pt->root().is(K::Dict));

  // conds.pt was saved from the same run as the cond_pipeline golden.
  auto golden = SafetensorsFile::open(fixture(variant + "/golden/cond_pipeline.safetensors"));
  for (const char* g : {"prompt_token", "prompt_token_len", "prompt_feat", "embedding"}) {
    expect_same(pt->get(std::string("gen.") + g), golden->get(std::string("gen/") + g), g);
  }
  expect_same(pt->get("t3.cond_prompt_speech_tokens"),
              golden->get("t3cond/cond_prompt_speech_tokens"), "cond_prompt_speech_tokens");
  expect_same(pt->get("t3.emotion_adv"), golden->get("t3cond/emotion_adv"), "emotion_adv");
}

INSTANTIATE_TEST_SUITE_P(Variants, CondsPt, ::testing::Values("english-tiny", "turbo-tiny"));

TEST(TorchPt, VoiceEncoderPtEqualsSafetensorsExactly) {
  auto pt = TorchPtFile::open(fixture("multilingual-tiny/ve.pt"));
  auto st = SafetensorsFile::open(fixture("turbo-tiny/ve.safetensors"));
  ASSERT_EQ(pt->tensors().size(), st->tensors().size());
  EXPECT_EQ(pt->tensors().size(), 16u);  // 3 LSTM layers x 4 + proj x 2 + similarity x 2
  for (const TensorInfo& info : st->tensors()) {
    ASSERT_TRUE(pt->contains(info.name)) << info.name;
    expect_same(pt->get(info.name), st->get(info.name), info.name);
  }
  EXPECT_TRUE(pt->contains("lstm.weight_hh_l2"));
}

// A torch >= 2.1 style checkpoint ("archive/" root, byteorder, .data/serialization_id) holding
// one storage of 6 floats viewed three ways, a parameter-wrapped int64 tensor and a None.
Bytes v21_checkpoint(ZipWriter::Options opt, const std::string& byteorder = "little") {
  PickleWriter p;
  p.proto(2).global("collections", "OrderedDict").op(')').op('R').op('q').raw(0, 1).op('(');
  p.str("w").tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1});
  p.str("w_t").tensor("FloatStorage", "0", 6, 0, {3, 2}, {1, 3});
  p.str("tail").tensor("FloatStorage", "0", 6, 4, {2}, {1});
  p.str("p").global("torch._utils", "_rebuild_parameter").op('(');
  p.tensor("LongStorage", "1", 3, 0, {3}, {1}).op(static_cast<unsigned char>(0x88));
  p.global("collections", "OrderedDict").op(')').op('R').op('t').op('R');
  p.str("nothing").op('N');
  p.op('u');
  p.op('}').str("_metadata").op('}').op('s').op('b').op('.');
  ZipWriter zip(opt);
  zip.add("archive/data.pkl", p.bytes());
  Bytes bo;
  testing::put_str(bo, byteorder);
  zip.add("archive/byteorder", bo);
  zip.add("archive/data/0", as_bytes(std::vector<float>{0, 1, 2, 3, 4, 5}));
  zip.add("archive/data/1", as_bytes(std::vector<std::int64_t>{-1, 1LL << 40, 7}));
  Bytes version;
  testing::put_str(version, "3\n");
  zip.add("archive/version", version);
  Bytes sid;
  testing::put_str(sid, "1234567890");
  zip.add("archive/.data/serialization_id", sid);
  return zip.finish();
}

void check_v21(const TorchPtFile& pt) {
  ASSERT_EQ(pt.tensors().size(), 4u);
  EXPECT_EQ(pt.tensors()[0].name, "w");
  const Tensor w = pt.get("w");
  EXPECT_EQ(w.shape(), (Shape{2, 3}));
  const Tensor wt = pt.get("w_t");
  ASSERT_EQ(wt.shape(), (Shape{3, 2}));
  EXPECT_TRUE(wt.owns_storage());
  // w_t[i][j] = w[j][i] = 3j + i
  const std::vector<float> want_t = {0, 3, 1, 4, 2, 5};
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(wt.data<float>()[i], want_t[i]) << i;
  const Tensor tail = pt.get("tail");
  EXPECT_EQ(tail.data<float>()[0], 4.0f);
  EXPECT_EQ(tail.data<float>()[1], 5.0f);
  const Tensor p = pt.get("p");
  EXPECT_EQ(p.dtype(), DType::I64);
  EXPECT_EQ(p.data<std::int64_t>()[0], -1);
  EXPECT_EQ(p.data<std::int64_t>()[1], 1LL << 40);
  ASSERT_EQ(pt.values().count("nothing"), 1u);
  EXPECT_TRUE(pt.values().at("nothing")->is(K::None));
}

TEST(TorchPt, Torch21LayoutWithSharedAndTransposedStorage) {
  TempDir dir;
  write_bytes(dir / "v21.pt", v21_checkpoint({}));
  auto pt = TorchPtFile::open(dir / "v21.pt");
  check_v21(*pt);
  EXPECT_FALSE(pt->get("w").owns_storage());
  EXPECT_FALSE(pt->get("tail").owns_storage());
}

TEST(TorchPt, Zip64RecordsAndUnalignedStorages) {
  TempDir dir;
  write_bytes(dir / "z64.pt", v21_checkpoint({.align = 1, .zip64 = true, .method = 0}));
  auto pt = TorchPtFile::open(dir / "z64.pt");
  check_v21(*pt);
}

TEST(TorchPt, BigEndianIsUnsupported) {
  TempDir dir;
  write_bytes(dir / "be.pt", v21_checkpoint({}, "big"));
  EXPECT_ERROR_WITH((void)TorchPtFile::open(dir / "be.pt"), Unsupported, {"be.pt", "big"});
}

TEST(TorchPt, CompressedEntryIsRejected) {
  TempDir dir;
  write_bytes(dir / "deflate.pt", v21_checkpoint({.align = 64, .zip64 = false, .method = 8}));
  EXPECT_ERROR_WITH((void)TorchPtFile::open(dir / "deflate.pt"), ModelFormatError,
                    {"deflate.pt", "compressed"});
}

// A checkpoint whose only content is `pickle` (plus a storage "0" of 4 floats).
Bytes checkpoint_with(const Bytes& pickle, bool with_storage = true) {
  ZipWriter zip;
  zip.add("ckpt/data.pkl", pickle);
  if (with_storage) zip.add("ckpt/data/0", as_bytes(std::vector<float>{1, 2, 3, 4}));
  return zip.finish();
}

Bytes one_tensor_pickle(const std::string& storage_type, std::int64_t numel, std::int64_t offset,
                        const std::vector<std::int64_t>& size,
                        const std::vector<std::int64_t>& stride, const std::string& key = "0") {
  PickleWriter p;
  p.proto(2).op('}').str("weight").tensor(storage_type, key, numel, offset, size, stride);
  return p.op('s').op('.').bytes();
}

TEST(TorchPt, RejectsCorruptCheckpoints) {
  TempDir dir;
  const Bytes good = testing::read_bytes(fixture("english-tiny/conds.pt"));
  struct Case {
    std::string file;
    Bytes bytes;
    std::vector<std::string> expect;
  };
  std::vector<Case> cases;
  cases.push_back({"truncated.pt", Bytes(good.begin(), good.begin() + 5000), {"end-of-central"}});
  Bytes bad_eocd = good;
  bad_eocd[bad_eocd.size() - 22] = std::byte{'X'};
  cases.push_back({"bad_eocd.pt", bad_eocd, {"end-of-central"}});
  Bytes bad_cd_offset = good;
  bad_cd_offset[bad_cd_offset.size() - 22 + 16 + 3] = std::byte{0x7f};
  cases.push_back({"bad_cd_offset.pt", bad_cd_offset, {"central directory"}});
  {
    ZipWriter zip;
    zip.add("ckpt/other.bin", Bytes(4));
    cases.push_back({"no_pkl.pt", zip.finish(), {"data.pkl"}});
  }
  cases.push_back({"missing_storage.pt",
                   checkpoint_with(one_tensor_pickle("FloatStorage", 4, 0, {4}, {1}, "9")),
                   {"'weight'", "ckpt/data/9"}});
  cases.push_back({"past_storage.pt",
                   checkpoint_with(one_tensor_pickle("FloatStorage", 4, 2, {3}, {1})),
                   {"'weight'", "storage"}});
  cases.push_back({"stride_past_storage.pt",
                   checkpoint_with(one_tensor_pickle("FloatStorage", 4, 0, {2, 2}, {1, 3})),
                   {"'weight'", "storage"}});
  cases.push_back({"storage_size.pt",
                   checkpoint_with(one_tensor_pickle("FloatStorage", 8, 0, {4}, {1})),
                   {"'weight'", "bytes"}});
  cases.push_back({"double.pt",
                   checkpoint_with(one_tensor_pickle("DoubleStorage", 2, 0, {2}, {1})),
                   {"'weight'", "torch.DoubleStorage"}});
  {
    PickleWriter p;  // a classic exploit: os.system('touch pwned') via REDUCE
    p.proto(2).global("os", "system").op('(').str("touch pwned").op('t').op('R').op('.');
    cases.push_back({"os_system.pt", checkpoint_with(p.bytes()), {"os.system"}});
  }
  {
    Bytes pk = one_tensor_pickle("FloatStorage", 4, 0, {4}, {1});
    pk.resize(pk.size() / 2);
    cases.push_back({"pickle_cut.pt", checkpoint_with(pk), {"truncated"}});
  }
  {
    PickleWriter p;  // 200 nested lists
    p.proto(2);
    for (int i = 0; i < 200; ++i) p.op(']');
    for (int i = 0; i < 199; ++i) p.op('a');
    cases.push_back({"deep.pt", checkpoint_with(p.bytes()), {"nested deeper"}});
  }
  {
    PickleWriter p;  // a dict that contains itself: must not recurse forever
    p.proto(2).op('}').op('q').raw(0, 1).str("self").op('h').raw(0, 1).op('s').op('.');
    cases.push_back({"cycle.pt", checkpoint_with(p.bytes()), {"nested deeper"}});
  }
  {
    PickleWriter p;
    p.proto(2).op(']').op('.');
    cases.push_back({"list_root.pt", checkpoint_with(p.bytes()), {"list"}});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    write_bytes(dir / c.file, c.bytes);
    std::vector<std::string> expect = c.expect;
    expect.push_back(c.file);
    try {
      (void)TorchPtFile::open(dir / c.file);
      ADD_FAILURE() << "no error";
    } catch (const ModelFormatError& e) {
      for (const std::string& s : expect) {
        EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << s << " / " << e.what();
      }
    }
  }
  EXPECT_FALSE(std::filesystem::exists("pwned"));
}

}  // namespace
}  // namespace chatterd
