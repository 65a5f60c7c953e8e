// build_voice on the tiny fixture networks: agreement with the reference's own conds.pt, and bad
// input (silence, clipping, too short, stereo, other rates, non-audio files, absurd lengths).
#include "pipeline/voice_builder.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "core/thread_pool.h"
#include "io/audio_file.h"
#include "voice_test_util.h"

namespace chatterd {
namespace {

using voice_test::fixtures;
using voice_test::ref_clip;
using voice_test::TempDir;

const VoiceModels& turbo_models() {
  static const VoiceModels m = VoiceModels::load(fixtures() / "turbo-tiny", Variant::Turbo);
  return m;
}
const VoiceModels& english_models() {
  static const VoiceModels m = VoiceModels::load(fixtures() / "english-tiny", Variant::English);
  return m;
}
double max_rel(const Tensor& a, const Tensor& b) {
  double diff = 0.0, ref = 0.0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    diff = std::max(diff, static_cast<double>(std::abs(a.data<float>()[i] - b.data<float>()[i])));
    ref = std::max(ref, static_cast<double>(std::abs(b.data<float>()[i])));
  }
  return diff / ref;
}

void expect_same_voice(const Voice& a, const Voice& b, double tol) {
  ASSERT_EQ(a.prompt_tokens.shape(), b.prompt_tokens.shape());
  ASSERT_EQ(a.gen_tokens.shape(), b.gen_tokens.shape());
  ASSERT_EQ(a.gen_feat.shape(), b.gen_feat.shape());
  for (std::int64_t i = 0; i < a.prompt_tokens.numel(); ++i) {
    EXPECT_EQ(a.prompt_tokens.data<std::int64_t>()[i], b.prompt_tokens.data<std::int64_t>()[i])
        << i;
  }
  for (std::int64_t i = 0; i < a.gen_tokens.numel(); ++i) {
    EXPECT_EQ(a.gen_tokens.data<std::int64_t>()[i], b.gen_tokens.data<std::int64_t>()[i]) << i;
  }
  EXPECT_LE(max_rel(a.speaker_emb, b.speaker_emb), tol);
  EXPECT_LE(max_rel(a.gen_feat, b.gen_feat), tol);
  EXPECT_LE(max_rel(a.gen_embedding, b.gen_embedding), tol);
}

TEST(BuildVoice, MatchesTheReferenceCondsPt) {
  // conds.pt was written by the reference after prepare_conditionals(ref.wav) with these weights.
  for (const auto& [models, dir] :
       {std::pair{&turbo_models(), "turbo-tiny"}, std::pair{&english_models(), "english-tiny"}}) {
    const Voice built = build_voice(ExecContext{}, *models, ref_clip(), "ref");
    const Voice ref = load_voice_from_conds(fixtures() / dir / "conds.pt", models->hp.variant, "c");
    SCOPED_TRACE(dir);
    expect_same_voice(built, ref, 1e-4);
    EXPECT_EQ(built.source_sample_rate, 24000);
    EXPECT_EQ(built.builder_version, kVoiceBuilderVersion);
  }
}

TEST(BuildVoice, StereoOfIdenticalChannelsEqualsMono) {
  const AudioData mono = ref_clip();
  AudioData stereo{mono.sample_rate_hz, 2, {}};
  for (float s : mono.samples) {
    stereo.samples.push_back(s);
    stereo.samples.push_back(s);
  }
  const Voice a = build_voice(ExecContext{}, turbo_models(), mono, "m");
  const Voice b = build_voice(ExecContext{}, turbo_models(), stereo, "s");
  expect_same_voice(a, b, 0.0);
}

TEST(BuildVoice, OtherSampleRatesAreResampledFirst) {
  // 48 kHz written and read back through libsndfile: same length in seconds, same family checks.
  TempDir dir;
  const AudioData mono = ref_clip();
  AudioData hi{48000, 1, {}};
  for (std::size_t i = 0; i + 1 < mono.samples.size(); ++i) {  // linear 2x upsampling
    hi.samples.push_back(mono.samples[i]);
    hi.samples.push_back(0.5f * (mono.samples[i] + mono.samples[i + 1]));
  }
  hi.samples.push_back(mono.samples.back());
  hi.samples.push_back(mono.samples.back());
  write_wav(dir.path() / "hi.wav", hi, WavFormat::Float32);
  const Voice v =
      build_voice(ExecContext{}, turbo_models(), read_voice_clip(dir.path() / "hi.wav"), "hi");
  EXPECT_EQ(v.source_sample_rate, 48000);
  EXPECT_EQ(v.gen_feat.dim(1), 300);  // 6 s at 24 kHz / 480
  EXPECT_EQ(v.gen_tokens.dim(1), 150);
}

TEST(BuildVoice, TooShortNamesTheMinimum) {
  AudioData a = ref_clip();
  a.samples.resize(24000 * 5);  // exactly 5 s: the reference asserts > 5 s
  EXPECT_ERROR_WITH(build_voice(ExecContext{}, turbo_models(), a, "short"), InvalidArgument,
                    {"5.00 s", "more than 5.0 s", "turbo"});
  a.samples.resize(12000);
  EXPECT_ERROR_WITH(build_voice(ExecContext{}, english_models(), a, "short"), InvalidArgument,
                    {"0.50 s", "more than 1.0 s"});
  // 2 s is enough for the standard family (no loudness step, 6 s prompt).
  AudioData b = ref_clip();
  b.samples.resize(48000);
  EXPECT_EQ(build_voice(ExecContext{}, english_models(), b, "two").gen_tokens.dim(1), 50);
}

TEST(BuildVoice, SilenceSkipsTheGainAndStillGivesAFiniteVoice) {
  // As in the reference: loudness is -inf, no gain; the networks still produce finite outputs
  // (a meaningless voice: callers that care should check the clip's loudness).
  AudioData a{24000, 1, std::vector<float>(24000 * 6, 0.0f)};
  VoiceBuildTrace trace;
  const Voice v = build_voice(ExecContext{}, turbo_models(), a, "silence", &trace);
  EXPECT_TRUE(std::isinf(trace.lufs) && trace.lufs < 0);
  EXPECT_FALSE(trace.loudness_applied);
  for (const float x : trace.wav24k) ASSERT_EQ(x, 0.0f);  // gain (inf) not applied
  EXPECT_NO_THROW(validate_voice(v, "silence"));
}

TEST(BuildVoice, ClippedInputIsAccepted) {
  // |x| > 1 in a float file: the reference only warns; loudness normalisation rescales it.
  AudioData a = ref_clip();
  for (float& s : a.samples) s = std::clamp(s * 20.0f, -1.5f, 1.5f);
  VoiceBuildTrace trace;
  const Voice v = build_voice(ExecContext{}, turbo_models(), a, "clipped", &trace);
  EXPECT_TRUE(trace.loudness_applied);
  EXPECT_LT(trace.gain_linear, 1.0);
  EXPECT_NO_THROW(validate_voice(v, "clipped"));
}

TEST(BuildVoice, RejectsNonFiniteAndOverlongAudio) {
  AudioData a = ref_clip();
  a.samples[100] = std::nanf("");
  EXPECT_ERROR_WITH(build_voice(ExecContext{}, turbo_models(), a, "nan"), InvalidArgument,
                    {"sample 100"});
  AudioData huge{8000, 1, std::vector<float>(8000 * 601, 0.0f)};
  EXPECT_ERROR_WITH(build_voice(ExecContext{}, turbo_models(), huge, "huge"), InvalidArgument,
                    {"601.0 s", "600 s"});
}

TEST(BuildVoice, NonAudioFileIsAFormatError) {
  TempDir dir;
  const auto p = dir.path() / "notes.wav";
  std::ofstream(p) << "this is not audio at all, just text pretending to be a wav file";
  EXPECT_ERROR_WITH(read_voice_clip(p), ModelFormatError, {p.string()});
  EXPECT_ERROR_WITH(read_voice_clip(dir.path() / "missing.wav"), IoError, {"missing.wav"});
}

TEST(BuildVoice, HugeFilesAreRefusedBeforeReading) {
  // A sparse file just over the bound: refused from its size, without decoding (or allocating).
  TempDir dir;
  const auto p = dir.path() / "huge.wav";
  std::ofstream(p) << "RIFF";
  std::filesystem::resize_file(p, kMaxClipFileBytes + 1);
  EXPECT_ERROR_WITH(read_voice_clip(p), InvalidArgument, {"huge.wav", "bytes"});
}

TEST(BuildVoice, LongClipsAreCutWhereTheReferenceCutsThem) {
  AudioData a = ref_clip();
  const std::vector<float> one = a.samples;
  for (int i = 0; i < 2; ++i) a.samples.insert(a.samples.end(), one.begin(), one.end());  // 18 s
  const Voice v = build_voice(ExecContext{}, turbo_models(), a, "long");
  EXPECT_EQ(v.gen_feat.dim(1), 500);  // DEC_COND_LEN 10 s / 480
  EXPECT_EQ(v.gen_tokens.dim(1), 250);
  EXPECT_EQ(v.prompt_tokens.dim(1), 375);  // 15 s of 25 Hz tokens = speech_cond_prompt_len
}

}  // namespace
}  // namespace chatterd

namespace chatterd {
namespace {}  // namespace
}  // namespace chatterd
