#include "serving/api_request.h"

#include <gtest/gtest.h>

#include "chatterd/core/error.h"
#include "serving/audio_encoding.h"
#include "serving/server_config.h"

namespace chatterd::serving {
namespace {

const EngineInfo kInfo{.name = "fake", .sample_rate_hz = 24000, .voices = {"v1", "v2"}};

ApiError speech_error(std::string_view body, std::size_t max_chars = 5000) {
  auto r = parse_openai_speech(body, kInfo, {.max_text_chars = max_chars});
  EXPECT_TRUE(std::holds_alternative<ApiError>(r)) << body;
  return std::holds_alternative<ApiError>(r) ? std::get<ApiError>(r) : ApiError{};
}

TEST(ServingApi, OpenAiSpeechDefaultsAndVoiceMapping) {
  auto r = parse_openai_speech(R"({"model":"tts-1","input":"Hi.","voice":"alloy","speed":1.5})",
                               kInfo, {});
  ASSERT_TRUE(std::holds_alternative<SpeechCall>(r));
  const auto& c = std::get<SpeechCall>(r);
  EXPECT_EQ(c.request.text, "Hi.");
  EXPECT_EQ(c.request.voice, "");  // unknown voice: the engine's default
  EXPECT_EQ(c.format, AudioFormat::Wav);
  EXPECT_FALSE(c.stream);
  auto known = parse_openai_speech(
      R"({"input":"Hi.","voice":"v2","response_format":"pcm","stream":true})", kInfo, {});
  ASSERT_TRUE(std::holds_alternative<SpeechCall>(known));
  EXPECT_EQ(std::get<SpeechCall>(known).request.voice, "v2");
  EXPECT_EQ(std::get<SpeechCall>(known).format, AudioFormat::Pcm);
  EXPECT_TRUE(std::get<SpeechCall>(known).stream);
}

TEST(ServingApi, OpenAiSpeechRejectsBadBodies) {
  EXPECT_NE(speech_error(R"({"input":"Hi.")").message.find("malformed JSON"), std::string::npos);
  EXPECT_NE(speech_error("[1]").message.find("JSON object"), std::string::npos);
  EXPECT_NE(speech_error(R"({"voice":"x"})").message.find("missing required field 'input'"),
            std::string::npos);
  EXPECT_NE(speech_error(R"({"input":3})").message.find("'input' must be a string"),
            std::string::npos);
  EXPECT_NE(
      speech_error(R"({"input":"a","stream":"yes"})").message.find("'stream' must be a boolean"),
      std::string::npos);
  EXPECT_NE(speech_error(R"({"input":"a","speed":"fast"})").message.find("'speed'"),
            std::string::npos);
  EXPECT_NE(speech_error(R"({"input":"  \n"})").message.find("empty"), std::string::npos);
  const ApiError fmt_err = speech_error(R"({"input":"a","response_format":"aac"})");
  EXPECT_EQ(fmt_err.status, 400);
  EXPECT_NE(fmt_err.message.find("supported: wav, pcm, mp3, opus, flac"), std::string::npos);
  const ApiError utf8 = speech_error("{\"input\":\"a\xff\"}");
  EXPECT_EQ(utf8.status, 400);
  EXPECT_NE(utf8.message.find("UTF-8"), std::string::npos);
}

TEST(ServingApi, StreamingFlagFollowsTheRequest) {
  // Non-streamed calls still pass the scheduler's chunk callback: the engine must be told.
  auto whole = parse_openai_speech(R"({"input":"Hi.","voice":"v1"})", kInfo, {});
  ASSERT_TRUE(std::holds_alternative<SpeechCall>(whole));
  EXPECT_FALSE(std::get<SpeechCall>(whole).request.options.streaming);
  auto streamed = parse_synthesize(R"({"text":"Hi.","streaming":true})", kInfo, {});
  ASSERT_TRUE(std::holds_alternative<SpeechCall>(streamed));
  EXPECT_TRUE(std::get<SpeechCall>(streamed).request.options.streaming);
}

TEST(ServingApi, LanguageAndCfgControls) {
  auto r = parse_synthesize(
      R"({"text":"Bonjour.","language_id":"fr","cfg_weight":0.3,"exaggeration":0.7,"temperature":0.8})",
      kInfo, {});
  ASSERT_TRUE(std::holds_alternative<SpeechCall>(r));
  const SynthesisOptions& o = std::get<SpeechCall>(r).request.options;
  EXPECT_EQ(o.language, "fr");
  EXPECT_FLOAT_EQ(o.cfg_weight.value_or(-1.0f), 0.3f);
  EXPECT_FLOAT_EQ(o.exaggeration.value_or(-1.0f), 0.7f);
  EXPECT_FLOAT_EQ(o.temperature.value_or(-1.0f), 0.8f);
  auto alias = parse_openai_speech(R"({"input":"Hola.","voice":"x","language":"es"})", kInfo, {});
  ASSERT_TRUE(std::holds_alternative<SpeechCall>(alias));
  EXPECT_EQ(std::get<SpeechCall>(alias).request.options.language, "es");
  EXPECT_NE(speech_error(R"({"input":"Hi.","language":5})").message.find("'language'"),
            std::string::npos);
  EXPECT_NE(speech_error(R"({"input":"Hi.","cfg_weight":"high"})").message.find("'cfg_weight'"),
            std::string::npos);
}

TEST(ServingApi, TextLimitCountsCodePoints) {
  // "héé" is 3 code points in 5 bytes: allowed at 3, refused with 413 at 2.
  EXPECT_TRUE(std::holds_alternative<SpeechCall>(
      parse_openai_speech("{\"input\":\"h\xc3\xa9\xc3\xa9\"}", kInfo, {.max_text_chars = 3})));
  EXPECT_EQ(speech_error("{\"input\":\"h\xc3\xa9\xc3\xa9\"}", 2).status, 413);
}

TEST(ServingApi, SynthesizeFields) {
  auto r = parse_synthesize(
      R"({"text":"Hi.","voice":"v1","streaming":true,"chunk_size":30,"seed":7,"priority":1})",
      kInfo, {});
  ASSERT_TRUE(std::holds_alternative<SpeechCall>(r));
  const auto& c = std::get<SpeechCall>(r);
  EXPECT_EQ(c.request.voice, "v1");
  EXPECT_TRUE(c.stream);
  EXPECT_EQ(c.request.options.chunk_tokens, 30);
  EXPECT_EQ(c.request.options.seed, 7u);
  EXPECT_EQ(c.priority, 1);
  EXPECT_TRUE(c.request.options.batching);
  auto unbatched =
      parse_synthesize(R"({"text":"a","enable_batching":false,"priority":-100})", kInfo, {});
  ASSERT_TRUE(std::holds_alternative<SpeechCall>(unbatched));
  EXPECT_FALSE(std::get<SpeechCall>(unbatched).request.options.batching);
  EXPECT_EQ(std::get<SpeechCall>(unbatched).priority, -100);
  for (const char* bad :
       {R"({"text":"a","chunk_size":10})", R"({"text":"a","chunk_size":2.5})",
        R"({"text":"a","seed":-1})", R"({"input":"a"})", R"({"text":"a","priority":1.5})",
        R"({"text":"a","priority":101})", R"({"text":"a","priority":"high"})",
        R"({"text":"a","enable_batching":1})"}) {
    auto e = parse_synthesize(bad, kInfo, {});
    ASSERT_TRUE(std::holds_alternative<ApiError>(e)) << bad;
    EXPECT_EQ(std::get<ApiError>(e).status, 400) << bad;
  }
}

TEST(ServingApi, WavHeaderFields) {
  const std::string h = wav_header(24000, 200);
  ASSERT_EQ(h.size(), 44u);
  EXPECT_EQ(h.substr(0, 4), "RIFF");
  EXPECT_EQ(h.substr(8, 8), "WAVEfmt ");
  EXPECT_EQ(static_cast<unsigned char>(h[24]) | static_cast<unsigned char>(h[25]) << 8,
            24000 & 0xFFFF);
  EXPECT_EQ(static_cast<unsigned char>(h[40]), 200);
  std::string pcm;
  append_pcm16(pcm, std::vector<float>{1.0f, -1.0f, 0.5f});
  ASSERT_EQ(pcm.size(), 6u);
  EXPECT_EQ(static_cast<unsigned char>(pcm[0]), 0xFF);  // 32767 after clamping
  EXPECT_EQ(static_cast<unsigned char>(pcm[1]), 0x7F);
  EXPECT_EQ(static_cast<unsigned char>(pcm[3]), 0x80);  // -32768
  EXPECT_EQ(static_cast<unsigned char>(pcm[5]), 0x40);  // 16384
}

TEST(ServingConfig, ValidateListsEveryProblem) {
  ServerConfig c;
  c.validate();
  c.max_queue = 0;
  c.io_threads = 0;
  c.api_key = "";
  c.max_batch = 0;
  c.realtime_budget = -0.5;
  try {
    c.validate();
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("max_batch"), std::string::npos) << m;
    EXPECT_NE(m.find("realtime_budget"), std::string::npos) << m;
    EXPECT_NE(m.find("max_queue"), std::string::npos) << m;
    EXPECT_NE(m.find("io_threads"), std::string::npos) << m;
    EXPECT_NE(m.find("api_key"), std::string::npos) << m;
  }
  EXPECT_NE(ServerConfig{}.to_string().find("max_queue = 16"), std::string::npos);
}

TEST(ServingConfig, BatchingAndBudgetKeys) {
  ServerConfig c;
  apply_config_json(c, R"({"max_batch": 4, "realtime_budget": 0.75})", "test");
  EXPECT_EQ(c.max_batch, 4);
  EXPECT_DOUBLE_EQ(c.realtime_budget, 0.75);
  set_config_value(c, "realtime_budget", "1", "flag");
  EXPECT_DOUBLE_EQ(c.realtime_budget, 1.0);
  EXPECT_THROW(set_config_value(c, "realtime_budget", "fast", "flag"), InvalidArgument);
  EXPECT_THROW(apply_config_json(c, R"({"max_batch": 1.5})", "test"), InvalidArgument);
  EXPECT_NE(c.to_string().find("max_batch = 4"), std::string::npos) << c.to_string();
}

TEST(ServingConfig, DeviceKey) {
  ServerConfig c;
  EXPECT_EQ(c.device, DeviceSpec{});
  apply_config_json(c, R"({"device": "cuda:1"})", "test");
  EXPECT_EQ(c.device, (DeviceSpec{.kind = Device::CUDA, .index = 1}));
  EXPECT_NE(c.to_string().find("device = cuda:1"), std::string::npos) << c.to_string();
  EXPECT_NE(c.to_json().find(R"("device":"cuda:1")"), std::string::npos) << c.to_json();
  set_config_value(c, "device", "cpu", "flag --device");
  EXPECT_EQ(c.device, DeviceSpec{});
  try {
    set_config_value(c, "device", "gpu0", "flag --device");
    ADD_FAILURE() << "gpu0 was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("flag --device"), std::string::npos) << e.what();
  }
  EXPECT_THROW(apply_config_json(c, R"({"device": 1})", "test"), InvalidArgument);
}

TEST(ServingApi, BearerMatchesOnlyTheExactKey) {
  EXPECT_TRUE(bearer_matches("Bearer s3cret", "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearer s3creT", "s3cret"));   // last byte
  EXPECT_FALSE(bearer_matches("bearer s3cret", "s3cret"));   // the scheme too
  EXPECT_FALSE(bearer_matches("Bearer s3cre", "s3cret"));    // a prefix
  EXPECT_FALSE(bearer_matches("Bearer s3cret2", "s3cret"));  // longer
  EXPECT_FALSE(bearer_matches("Bearer s3cret ", "s3cret"));
  EXPECT_FALSE(bearer_matches("s3cret", "s3cret"));
  EXPECT_FALSE(bearer_matches("", "s3cret"));
  EXPECT_FALSE(bearer_matches(std::string("Bearer s3cre\0", 13), "s3cret"));
  EXPECT_FALSE(bearer_matches("Bearer ", "s3cret"));
}

}  // namespace
}  // namespace chatterd::serving
