// ChatterboxEngine on the tiny Turbo fixture (random weights of tiny dimensions, real layout):
// the pipeline contracts (lengths, determinism, threads, streaming, cancellation, errors).
#include "pipeline/chatterbox_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "chatterd/core/error.h"
#include "fixture_dirs.h"
#include "models/model_hparams.h"
#include "pipeline/system_info.h"
#include "pipeline/voice.h"
#include "pipeline/voice_store.h"
#include "unit/weights/test_files.h"

namespace chatterd {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kSamplesPerToken = 960;  // 2 mel frames x 480 samples

ChatterboxEngine& engine(int threads) {
  static auto e1 = ChatterboxEngine::load(test::kTurboTinyDir, 1);
  static auto e2 = ChatterboxEngine::load(test::kTurboTinyDir, 2);
  return threads == 1 ? *e1 : *e2;
}

SynthesisRequest request(std::string text, std::uint64_t seed, int max_tokens = 40) {
  SynthesisRequest r;
  r.text = std::move(text);
  r.options.seed = seed;
  r.options.max_speech_tokens = max_tokens;
  return r;
}

TEST(ChatterboxEngine, InfoNamesTheVariantAndVoices) {
  const EngineInfo& info = engine(1).info();
  EXPECT_EQ(info.name, "chatterbox-turbo");
  EXPECT_EQ(info.sample_rate_hz, 24000);
  EXPECT_EQ(info.voices, std::vector<std::string>{"default"});
  EXPECT_EQ(engine(1).variant(), Variant::Turbo);
}

TEST(ChatterboxEngine, SamplesPerTokenFollowFromTheConfig) {
  const ModelHparams hp = load_hparams(test::kTurboTinyDir, Variant::Turbo);
  std::int64_t per_frame = hp.s3gen.hift.istft_hop;
  for (const auto r : hp.s3gen.hift.upsample_rates) per_frame *= r;
  EXPECT_EQ(hp.s3gen.token_mel_ratio * per_frame, kSamplesPerToken);
}

TEST(ChatterboxEngine, HelloThereGivesOneChunkOf960SamplesPerToken) {
  SynthesisRequest r;
  r.text = "Hello there.";
  r.options.seed = 7;  // default generation budget: stops on EOS or the context limit
  const SynthesisResult res = engine(1).synthesize(r);
  EXPECT_FALSE(res.cancelled);
  EXPECT_EQ(res.sample_rate_hz, 24000);
  EXPECT_EQ(res.stats.chunks, 1);
  // At least the first sampled token plus the 3 silence tokens.
  ASSERT_GE(res.stats.speech_tokens, 4);
  EXPECT_EQ(static_cast<std::int64_t>(res.samples.size()),
            kSamplesPerToken * res.stats.speech_tokens);
  for (const float s : res.samples) {
    ASSERT_TRUE(std::isfinite(s));
    ASSERT_LE(std::fabs(s), 0.99f);
  }
  // trim_fade: the first 480 samples are silenced.
  for (int i = 0; i < 480; ++i) ASSERT_EQ(res.samples[static_cast<std::size_t>(i)], 0.0f);
  EXPECT_NEAR(res.stats.audio_seconds, static_cast<double>(res.samples.size()) / 24000.0, 1e-9);
  EXPECT_GT(res.stats.total_ms, 0.0);
  EXPECT_GT(res.stats.time_to_first_audio_ms, 0.0);
  EXPECT_LE(res.stats.time_to_first_audio_ms, res.stats.total_ms);
  EXPECT_NEAR(res.stats.real_time_factor, res.stats.total_ms / 1000.0 / res.stats.audio_seconds,
              1e-9);
}

TEST(ChatterboxEngine, MaxSpeechTokensCapsTheTokens) {
  const SynthesisResult res = engine(1).synthesize(request("Hello there.", 3, 5));
  // <= 5 generated, every one kept unless >= 6561, plus 3 silence tokens.
  EXPECT_LE(res.stats.speech_tokens, 5 + 3);
  EXPECT_EQ(static_cast<std::int64_t>(res.samples.size()),
            kSamplesPerToken * res.stats.speech_tokens);
}

TEST(ChatterboxEngine, SameSeedSameAudioOtherSeedOtherAudio) {
  const auto a = engine(1).synthesize(request("Hello there.", 11));
  const auto b = engine(1).synthesize(request("Hello there.", 11));
  const auto c = engine(1).synthesize(request("Hello there.", 12));
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_NE(a.samples, c.samples);
}

TEST(ChatterboxEngine, ThreadCountDoesNotChangeTheAudio) {
  const auto a = engine(1).synthesize(request("Hello there.", 21));
  const auto b = engine(2).synthesize(request("Hello there.", 21));
  EXPECT_EQ(engine(2).n_threads(), 2);
  EXPECT_EQ(a.samples, b.samples);
}

TEST(ChatterboxEngine, StreamedChunksConcatenateToTheResult) {
  std::vector<float> streamed;
  std::vector<std::int64_t> indices;
  int last_count = 0;
  const auto res =
      engine(1).synthesize(request("Hello there. How are you today?", 5), [&](const AudioChunk& c) {
        EXPECT_EQ(c.sample_rate_hz, 24000);
        streamed.insert(streamed.end(), c.samples.begin(), c.samples.end());
        indices.push_back(c.index);
        last_count += c.is_last ? 1 : 0;
        return true;
      });
  EXPECT_FALSE(res.cancelled);
  EXPECT_EQ(streamed, res.samples);
  ASSERT_FALSE(indices.empty());
  for (std::size_t i = 0; i < indices.size(); ++i)
    EXPECT_EQ(indices[i], static_cast<std::int64_t>(i));
  EXPECT_EQ(last_count, 1);
  EXPECT_EQ(res.stats.chunks, static_cast<std::int64_t>(indices.size()));
}

// Each stage reports the resident set sampled where its segments end: at least most of what was
// resident before the request (the loaded model, the kept scratch buffers), and never above the
// process's high-water mark.
TEST(ChatterboxEngine, EveryStageReportsItsPeakResidentSet) {
  const auto on_chunk = [](const AudioChunk&) { return true; };
  (void)engine(1).synthesize(request("Hello there. How are you today?", 5), on_chunk);  // warm
  const std::int64_t before = bench::resident_bytes();
  ASSERT_GT(before, 0);
  const auto res = engine(1).synthesize(request("Hello there. How are you today?", 5), on_chunk);
  const std::int64_t hwm_bytes = bench::read_memory_usage().hwm_kib * 1024;
  ASSERT_GE(res.stats.chunks, 2);  // streamed: decode and vocoder segments interleave
  std::vector<std::string> names;
  for (const StageTime& stage : res.stats.stages) {
    names.push_back(stage.name);
    EXPECT_GE(stage.peak_rss_bytes, before / 2) << stage.name;
    EXPECT_LE(stage.peak_rss_bytes, hwm_bytes) << stage.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"text", "t3_prefill", "t3_decode", "flow_encoder",
                                             "flow_solver", "hift"}));
}

// Enough words that the tiny context needs two requests: 1024 positions - 376 of conditioning - BOS
// - 8 speech tokens leaves 639 text ids per request; each sentence is ~8 ids, 120 of them ~960.
std::string long_text() {
  std::string s;
  for (int i = 0; i < 120; ++i)
    s += "This sentence number " + std::to_string(i) + " is quite long. ";
  return s;
}

TEST(ChatterboxEngine, LongTextIsSplitIntoSeveralChunks) {
  int calls = 0;
  const auto res = engine(1).synthesize(request(long_text(), 9, 8), [&](const AudioChunk&) {
    ++calls;
    return true;
  });
  EXPECT_GE(res.stats.chunks, 2);
  EXPECT_EQ(calls, res.stats.chunks);
  EXPECT_EQ(static_cast<std::int64_t>(res.samples.size()),
            kSamplesPerToken * res.stats.speech_tokens);
}

TEST(ChatterboxEngine, CancelAfterTheFirstChunkStops) {
  // The full run streams too (a callback), so both use the same windows.
  const auto full =
      engine(1).synthesize(request(long_text(), 4, 8), [](const AudioChunk&) { return true; });
  ASSERT_GE(full.stats.chunks, 2);
  int calls = 0;
  std::size_t first_size = 0;
  const auto res = engine(1).synthesize(request(long_text(), 4, 8), [&](const AudioChunk& c) {
    ++calls;
    first_size = c.samples.size();
    return false;
  });
  EXPECT_TRUE(res.cancelled);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(res.stats.chunks, 1);
  EXPECT_EQ(res.samples.size(), first_size);
  EXPECT_LT(res.samples.size(), full.samples.size());
  // The first chunk is the same audio as in the full run.
  EXPECT_TRUE(std::equal(res.samples.begin(), res.samples.end(), full.samples.begin()));
}

TEST(ChatterboxEngine, ConcurrentRequestsMatchSequentialOnes) {
  ChatterboxEngine& e = engine(2);
  const auto a = e.synthesize(request("Hello there.", 31));
  const auto b = e.synthesize(request("How are you today?", 32));
  SynthesisResult ca, cb;
  std::thread ta([&] { ca = e.synthesize(request("Hello there.", 31)); });
  std::thread tb([&] { cb = e.synthesize(request("How are you today?", 32)); });
  ta.join();
  tb.join();
  EXPECT_EQ(ca.samples, a.samples);
  EXPECT_EQ(cb.samples, b.samples);
}

// T3's KV cache is taken from the engine's block pool while a request runs and given back after:
// the next request reuses the blocks instead of allocating.
TEST(ChatterboxEngine, KvCacheBlocksGoBackToThePoolAndAreReused) {
  auto e = ChatterboxEngine::load(test::kTurboTinyDir, 1);  // its own pool
  e->synthesize(request("Hello there.", 5));                // warm: the voice prefix exists now
  const EngineMemoryStats warm = e->memory_stats();
  EXPECT_GT(warm.kv_cache_bytes_allocated, 0);
  EXPECT_GT(warm.kv_cache_peak_bytes_in_use, warm.kv_cache_bytes_in_use);
  e->synthesize(request("Hello there.", 6));  // the same length: no more blocks needed
  const EngineMemoryStats after = e->memory_stats();
  EXPECT_EQ(after.kv_cache_bytes_in_use, warm.kv_cache_bytes_in_use);        // nothing leaked
  EXPECT_EQ(after.kv_cache_bytes_allocated, warm.kv_cache_bytes_allocated);  // reused
  EXPECT_LE(after.kv_cache_bytes_in_use, after.kv_cache_bytes_allocated);
}

TEST(ChatterboxEngine, EmptyTextSpeaksTheReferenceSentence) {
  const auto res = engine(1).synthesize(request("", 1, 6));
  EXPECT_GT(res.samples.size(), 0u);
}

TEST(ChatterboxEngine, BadInputIsInvalidArgument) {
  EXPECT_THROW(engine(1).synthesize(request("caf\xC3", 1)), InvalidArgument);
  SynthesisRequest r = request("Hello.", 1);
  r.voice = "alice";
  try {
    engine(1).synthesize(r);
    FAIL() << "unknown voice accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("alice"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("default"), std::string::npos) << e.what();
  }
  r.voice = "default";
  EXPECT_NO_THROW(engine(1).synthesize(r));
  r = request("Hello.", 1);
  r.options.max_speech_tokens = 0;
  EXPECT_THROW(engine(1).synthesize(r), InvalidArgument);
  r = request("Hello.", 1);
  r.options.temperature = -1.0f;
  r.options.top_p = 2.0f;
  EXPECT_THROW(engine(1).synthesize(r), InvalidArgument);
  r = request("Hello.", 1);
  r.options.language = "fr";
  EXPECT_THROW(engine(1).synthesize(r), InvalidArgument);
}

using ::chatterd::testing::TempDir;

std::string load_error(const fs::path& dir) {
  try {
    ChatterboxEngine::load(dir, 1);
  } catch (const ModelFormatError& e) {
    return e.what();
  }
  return "(no ModelFormatError)";
}

TEST(ChatterboxEngine, MissingFilesAreNamed) {
  for (const char* missing : {"conds.pt", "s3gen_meanflow.safetensors", "merges.txt"}) {
    TempDir d;
    for (const auto& entry : fs::directory_iterator(test::kTurboTinyDir)) {
      if (entry.is_regular_file() && entry.path().filename() != missing) {
        fs::create_symlink(entry.path(), d.path() / entry.path().filename());
      }
    }
    EXPECT_NE(load_error(d.path()).find(missing), std::string::npos)
        << missing << ": " << load_error(d.path());
  }
}

TEST(ChatterboxEngine, SyntheticTokenCountIsTenPerWord) {
  EXPECT_EQ(synthetic_token_count("Hello there."), 20);
  EXPECT_EQ(synthetic_token_count("  a b  c "), 30);
  EXPECT_EQ(synthetic_token_count(""), 10);
}

TEST(ChatterboxEngine, ClonedVoicesAreAddedAndUsed) {
  // The fixture's conds.pt imported as a named voice must speak exactly like the default voice.
  auto e = ChatterboxEngine::load(test::kTurboTinyDir, 1);
  e->add_voice(load_voice_from_conds(test::kTurboTinyDir / "conds.pt", Variant::Turbo, "alice"));
  EXPECT_NE(std::find(e->info().voices.begin(), e->info().voices.end(), "alice"),
            e->info().voices.end());
  SynthesisRequest r = request("Hello there.", 5, 12);
  const auto by_default = e->synthesize(r);
  r.voice = "alice";
  EXPECT_EQ(e->synthesize(r).samples, by_default.samples);
  // A voice built for the standard (English) family does not fit a Turbo model.
  Voice english = load_voice_from_conds(test::kTurboTinyDir / "conds.pt", Variant::English, "bob");
  EXPECT_THROW(e->add_voice(english), InvalidArgument);
}

TEST(ChatterboxEngine, VoiceStoreFolderIsLoadedByTheFactory) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("chatterd_engine_voices_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    VoiceStore store(nullptr, dir, ExecContext{});
    store.put(load_voice_from_conds(test::kTurboTinyDir / "conds.pt", Variant::Turbo, "carol"));
  }
  const auto e = create_chatterbox_engine(test::kTurboTinyDir, 1, dir);
  const auto& voices = e->info().voices;
  EXPECT_NE(std::find(voices.begin(), voices.end(), "carol"), voices.end());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace chatterd
