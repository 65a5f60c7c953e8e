// VoiceStore: content-keyed cache (memory and disk), names, listing, thread safety.
#include "pipeline/voice_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include "voice_test_util.h"

namespace chatterd {
namespace {

using voice_test::fixtures;
using voice_test::ref_clip;
using voice_test::TempDir;

std::shared_ptr<const VoiceModels> models() {
  static const auto m = std::make_shared<const VoiceModels>(
      VoiceModels::load(fixtures() / "turbo-tiny", Variant::Turbo));
  return m;
}
TEST(VoiceClipKey, DependsOnSamplesRateAndFamily) {
  const AudioData a = ref_clip();
  const std::string k = voice_clip_key(a, VoiceFamily::Turbo);
  EXPECT_EQ(k.size(), 64u);
  EXPECT_EQ(k, voice_clip_key(a, VoiceFamily::Turbo));
  EXPECT_NE(k, voice_clip_key(a, VoiceFamily::Standard));
  AudioData b = a;
  b.sample_rate_hz = 22050;
  EXPECT_NE(k, voice_clip_key(b, VoiceFamily::Turbo));
  AudioData c = a;
  c.samples[1234] = std::nextafter(c.samples[1234], 1.0f);
  EXPECT_NE(k, voice_clip_key(c, VoiceFamily::Turbo));
}

TEST(VoiceName, Validation) {
  EXPECT_NO_THROW(check_voice_name("Alice_2.v-1"));
  for (const char* bad : {"", ".hidden", "a/b", "../x", "sp ace", "é"}) {
    EXPECT_ERROR_WITH(check_voice_name(bad), InvalidArgument, {"invalid voice name"});
  }
  EXPECT_ERROR_WITH(check_voice_name(std::string(65, 'a')), InvalidArgument, {"64"});
}

TEST(VoiceStore, SecondAddOfTheSameClipIsAFastCacheHit) {
  TempDir dir;
  VoiceStore store(models(), dir.path());
  const AudioData clip = ref_clip();
  const auto t0 = std::chrono::steady_clock::now();
  const auto first = store.add("alice", clip);
  const auto t1 = std::chrono::steady_clock::now();
  const auto second = store.add("alice-again", clip);
  const auto t2 = std::chrono::steady_clock::now();
  EXPECT_FALSE(first.cache_hit);
  EXPECT_TRUE(second.cache_hit);
  EXPECT_EQ(first.key, second.key);
  EXPECT_EQ(store.builds(), 1u);
  EXPECT_LT(t2 - t1, (t1 - t0) / 2) << "cache hit not faster than a build";
  EXPECT_EQ(second.voice.name, "alice-again");
  EXPECT_EQ(store.list(), (std::vector<std::string>{"alice", "alice-again"}));
  ASSERT_TRUE(store.get("alice").has_value());
  EXPECT_EQ(store.get("alice")->source_sha256, first.key);
  EXPECT_FALSE(store.get("bob").has_value());
}

TEST(VoiceStore, DiskCacheSurvivesARestart) {
  TempDir dir;
  const AudioData clip = ref_clip();
  {
    VoiceStore store(models(), dir.path());
    store.add("alice", clip);
  }
  VoiceStore again(models(), dir.path());
  EXPECT_EQ(again.list(), std::vector<std::string>{"alice"});
  ASSERT_TRUE(again.get("alice").has_value());
  const auto r = again.add("carol", clip);
  EXPECT_TRUE(r.cache_hit);
  EXPECT_EQ(again.builds(), 0u);
  // A read-only store (no models) lists and loads, but cannot build.
  VoiceStore ro(nullptr, dir.path());
  EXPECT_EQ(ro.list(), (std::vector<std::string>{"alice", "carol"}));
  EXPECT_ERROR_WITH(ro.add("dave", clip), Unsupported, {"dave"});
}

TEST(VoiceStore, CorruptCacheEntryIsRebuilt) {
  TempDir dir;
  const AudioData clip = ref_clip();
  std::string key;
  {
    VoiceStore store(models(), dir.path());
    key = store.add("alice", clip).key;
  }
  std::ofstream(dir.path() / "cache" / (key + ".safetensors"), std::ios::trunc) << "garbage";
  VoiceStore again(models(), dir.path());
  EXPECT_FALSE(again.add("alice", clip).cache_hit);
  EXPECT_EQ(again.builds(), 1u);
}

TEST(VoiceStore, ConcurrentAddsBuildOnce) {
  VoiceStore store(models(), {});
  const AudioData clip = ref_clip();
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    // Appended, not "v" + to_string: GCC 12 -O3 misreports -Wrestrict on that operator+ (PR
    // 105651).
    threads.emplace_back([&, i] { store.add(std::string("v").append(std::to_string(i)), clip); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(store.builds(), 1u);
  EXPECT_EQ(store.list().size(), 4u);
}

TEST(VoiceStore, FailedBuildIsNotCached) {
  VoiceStore store(models(), {});
  AudioData shortclip = ref_clip();
  shortclip.samples.resize(24000);
  EXPECT_ERROR_WITH(store.add("s", shortclip), InvalidArgument, {"5.0 s"});
  EXPECT_ERROR_WITH(store.add("s", shortclip), InvalidArgument, {"5.0 s"});
  EXPECT_TRUE(store.list().empty());
}

}  // namespace
}  // namespace chatterd
