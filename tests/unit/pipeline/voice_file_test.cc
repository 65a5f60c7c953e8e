// SHA-256, the safetensors writer and chatterd voice files (round trip, conds.pt import, strict
// validation of corrupt files).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "pipeline/sha256.h"
#include "pipeline/voice.h"
#include "voice_test_util.h"
#include "weights/safetensors.h"
#include "weights/safetensors_writer.h"

namespace chatterd {
namespace {

using voice_test::fixtures;
using voice_test::TempDir;

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // One million 'a', fed in uneven pieces (exercises the partial-block path).
  Sha256 h;
  const std::string chunk(997, 'a');
  std::size_t left = 1000000;
  while (left > 0) {
    const std::size_t n = std::min(left, chunk.size());
    h.update(std::string_view(chunk).substr(0, n));
    left -= n;
  }
  EXPECT_EQ(h.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(SafetensorsWriter, RoundTripAlignedSortedWithMetadata) {
  TempDir dir;
  const auto path = dir.path() / "t.safetensors";
  SafetensorsContents c;
  const std::vector<float> f{1.5f, -2.0f, 3.25f};
  const std::vector<std::int64_t> ids{7, 8};
  const std::vector<std::int32_t> one{42};
  c.tensors["b.f32"] = Tensor::from_span<float>(f, Shape({1, 3}));
  c.tensors["a.i64"] = Tensor::from_span<std::int64_t>(ids, Shape({2}));
  c.tensors["c.i32"] = Tensor::from_span<std::int32_t>(one, Shape({1}));
  c.metadata["format"] = "x";
  write_safetensors(path, c);
  const std::string bytes = serialize_safetensors(c);
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  const std::string header = bytes.substr(8, n);
  EXPECT_LT(header.find("\"__metadata__\""), header.find("\"a.i64\""));
  EXPECT_LT(header.find("\"a.i64\""), header.find("\"b.f32\""));
  EXPECT_EQ((bytes.size() - 8 - n) % 8, 0u);
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->metadata().at("format"), "x");
  EXPECT_EQ(file->get("a.i64").data<std::int64_t>()[1], 8);
  EXPECT_EQ(file->get("b.f32").data<float>()[2], 3.25f);
  EXPECT_EQ(file->get("c.i32").data<std::int32_t>()[0], 42);
  // The 4-byte f32 x3 tensor is padded so the next one starts 8-aligned.
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1) << "temporary file left behind";
}

TEST(SafetensorsWriter, RejectsBadNamesAndUnwritablePaths) {
  SafetensorsContents c;
  c.tensors["__metadata__"] = Tensor::zeros(Shape({1}), DType::F32);
  EXPECT_ERROR_WITH(serialize_safetensors(c), InvalidArgument, {"__metadata__"});
  SafetensorsContents ok;
  ok.tensors["x"] = Tensor::zeros(Shape({1}), DType::F32);
  EXPECT_ERROR_WITH(write_safetensors("/nonexistent-dir/x.safetensors", ok), IoError,
                    {"/nonexistent-dir/x.safetensors"});
}

Voice conds_voice() {
  return load_voice_from_conds(fixtures() / "turbo-tiny/conds.pt", Variant::Turbo, "builtin");
}

TEST(VoiceFile, LoadsReferenceCondsPt) {
  const Voice v = conds_voice();
  EXPECT_EQ(v.family, VoiceFamily::Turbo);
  EXPECT_EQ(v.speaker_emb.shape(), Shape({1, 256}));
  EXPECT_EQ(v.prompt_tokens.shape(), Shape({1, 150}));
  EXPECT_EQ(v.gen_tokens.shape(), Shape({1, 150}));
  EXPECT_EQ(v.gen_feat.shape(), Shape({1, 300, 80}));
  EXPECT_EQ(v.gen_embedding.shape(), Shape({1, 192}));
  EXPECT_FLOAT_EQ(v.t3_cond(0.7f).emotion_adv, 0.7f);
  EXPECT_EQ(v.t3_cond().prompt_tokens.size(), 150u);
  EXPECT_EQ(v.s3gen_prompt().tokens.dim(1), 150);
}

TEST(VoiceFile, SaveLoadRoundTripIsExact) {
  TempDir dir;
  Voice v = conds_voice();
  v.source_sha256 = "abc";
  v.source_sample_rate = 24000;
  v.builder_version = kVoiceBuilderVersion;
  save_voice(v, dir.path() / "v.safetensors");
  const Voice w = load_voice(dir.path() / "v.safetensors");
  EXPECT_EQ(w.name, "builtin");
  EXPECT_EQ(w.family, VoiceFamily::Turbo);
  EXPECT_EQ(w.source_sha256, "abc");
  EXPECT_EQ(w.source_sample_rate, 24000);
  for (const auto& [a, b] : {std::pair{&v.speaker_emb, &w.speaker_emb},
                             {&v.prompt_tokens, &w.prompt_tokens},
                             {&v.gen_tokens, &w.gen_tokens},
                             {&v.gen_feat, &w.gen_feat},
                             {&v.gen_embedding, &w.gen_embedding}}) {
    ASSERT_EQ(a->shape(), b->shape());
    ASSERT_EQ(a->dtype(), b->dtype());
    EXPECT_EQ(std::memcmp(a->raw_data(), b->raw_data(), a->nbytes()), 0);
  }
}

TEST(VoiceFile, FitsOnlyItsFamily) {
  const Voice v = conds_voice();
  EXPECT_NO_THROW(check_voice_fits(v, ModelHparams::defaults(Variant::Turbo)));
  EXPECT_ERROR_WITH(check_voice_fits(v, ModelHparams::defaults(Variant::English)), InvalidArgument,
                    {"turbo", "standard"});
}

class CorruptVoiceFile : public ::testing::Test {
 protected:
  void write(const SafetensorsContents& c) { write_safetensors(path_, c); }
  SafetensorsContents good() const {
    const Voice v = conds_voice();
    SafetensorsContents c;
    c.tensors = {{"t3.speaker_emb", v.speaker_emb},
                 {"t3.cond_prompt_speech_tokens", v.prompt_tokens},
                 {"gen.prompt_token", v.gen_tokens},
                 {"gen.prompt_feat", v.gen_feat},
                 {"gen.embedding", v.gen_embedding}};
    c.metadata = {
        {"format", "chatterd-voice"}, {"format_version", "1"}, {"name", "n"},
        {"family", "turbo"},          {"source_sha256", ""},   {"source_sample_rate", "0"},
        {"builder_version", "1"}};
    return c;
  }
  TempDir dir_;
  std::filesystem::path path_ = dir_.path() / "v.safetensors";
};

TEST_F(CorruptVoiceFile, GoodBaselineLoads) {
  write(good());
  EXPECT_NO_THROW(load_voice(path_));
}

TEST_F(CorruptVoiceFile, TruncatedOrNotSafetensors) {
  write(good());
  std::filesystem::resize_file(path_, std::filesystem::file_size(path_) - 100);
  EXPECT_ERROR_WITH(load_voice(path_), ModelFormatError, {path_.string()});
  std::ofstream(path_, std::ios::trunc) << "RIFF....WAVEfmt not a voice";
  EXPECT_ERROR_WITH(load_voice(path_), ModelFormatError, {path_.string()});
}

TEST_F(CorruptVoiceFile, MissingFile) {
  EXPECT_ERROR_WITH(load_voice(path_), IoError, {path_.string()});
}

TEST_F(CorruptVoiceFile, WrongFormatOrVersion) {
  auto c = good();
  c.metadata["format"] = "something-else";
  write(c);
  EXPECT_ERROR_WITH(load_voice(path_), ModelFormatError, {"something-else"});
  c = good();
  c.metadata["format_version"] = "2";
  write(c);
  EXPECT_ERROR_WITH(load_voice(path_), ModelFormatError, {"version 2"});
  c = good();
  c.metadata.erase("family");
  write(c);
  EXPECT_ERROR_WITH(load_voice(path_), ModelFormatError, {"'family'"});
  c = good();
  c.metadata["family"] = "klingon";
  write(c);
  EXPECT_ERROR_WITH(load_voice(path_), ModelFormatError, {"klingon"});
}

TEST_F(CorruptVoiceFile, MissingExtraOrMistypedTensors) {
  auto c = good();
  c.tensors.erase("gen.embedding");
  write(c);
  EXPECT_ERROR_WITH(load_voice(path_), ModelFormatError, {"exactly"});
  c = good();
  c.tensors["extra"] = Tensor::zeros(Shape({1}), DType::F32);
  write(c);
  EXPECT_ERROR_WITH(load_voice(path_), ModelFormatError, {"extra"});
  c = good();
  c.tensors["gen.prompt_token"] = Tensor::zeros(Shape({1, 150}), DType::I32);
  write(c);
  EXPECT_ERROR_WITH(load_voice(path_), ModelFormatError, {"gen.prompt_token", "i64"});
}

TEST_F(CorruptVoiceFile, BadValues) {
  auto c = good();
  Tensor ids = c.tensors["gen.prompt_token"].clone();
  ids.data<std::int64_t>()[3] = 6561;
  c.tensors["gen.prompt_token"] = ids;
  write(c);
  EXPECT_ERROR_WITH(load_voice(path_), ModelFormatError, {"6561", "vocabulary"});
  c = good();
  Tensor emb = c.tensors["t3.speaker_emb"].clone();
  emb.data<float>()[5] = std::numeric_limits<float>::quiet_NaN();
  c.tensors["t3.speaker_emb"] = emb;
  write(c);
  EXPECT_ERROR_WITH(load_voice(path_), ModelFormatError, {"non-finite"});
  c = good();
  c.tensors["gen.prompt_token"] = Tensor::zeros(Shape({1, 151}), DType::I64);
  write(c);
  EXPECT_ERROR_WITH(load_voice(path_), ModelFormatError, {"fewer than"});
}

}  // namespace
}  // namespace chatterd
