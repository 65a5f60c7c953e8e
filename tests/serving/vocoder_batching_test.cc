// The vocoder batcher behind the server (turbo-tiny fixture): concurrent streamed requests keep
// the audio they get alone, their flow solves are booked as vocoder batches on /metrics and in
// /optimization-status, and the settings are validated.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chatterd/core/error.h"
#include "fixture_dirs.h"
#include "ops/exec_context.h"
#include "ops/gemm_bf16.h"
#include "serving/http_client.h"
#include "serving/prometheus.h"
#include "serving/server.h"
#include "serving/test_server.h"

namespace chatterd::serving {
namespace {

using nlohmann::json;
using testing::request;

TEST(ServingVocoderBatching, ConcurrentStreamsKeepTheirAudioAndBookBatches) {
  ServerConfig c = testing::loopback_config();
  c.model = test::kTurboTinyDir.string();
  c.n_threads = 2;
  c.vocoder_batch = 3;
  c.request_cache_mb = 0;  // the repeated seeded requests must run, not replay
  // bf16 vocoder: batched solves are bit-identical to solo ones there (S3GenFlow::solve_batch);
  // an f32 vocoder differs by float reordering, which moves a few PCM codes.
  const bool exact = ops::bf16_gemm_available(ExecContext{});
  if (exact) c.vocoder_dtype = WeightDType::BF16;
  const std::unique_ptr<Server> server = Server::create(c);
  server->start();
  const auto body = [](int i) {
    return fmt::format(
        R"({{"text":"Request number {}.","response_format":"pcm","streaming":true,)"
        R"("max_speech_tokens":40,"chunk_size":25,"first_chunk_size":10,"seed":{}}})",
        i, 10 + i);
  };
  const auto [alone, together] =
      testing::alone_then_together(server->port(), "/synthesize", 3, body);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(alone[static_cast<std::size_t>(i)].status, 200)
        << alone[static_cast<std::size_t>(i)].body;
    const testing::Reply& r = together[static_cast<std::size_t>(i)];
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string& want = alone[static_cast<std::size_t>(i)].body;
    if (exact) {
      EXPECT_EQ(r.body, want) << "request " << i;
    } else {
      // The engine test's bound (1e-3 of the waveform's scale), in PCM16 codes.
      ASSERT_EQ(r.body.size(), want.size()) << "request " << i;
      int worst = 0;
      for (std::size_t b = 0; b + 1 < want.size(); b += 2) {
        const auto a = static_cast<std::int16_t>(static_cast<std::uint8_t>(want[b]) |
                                                 (static_cast<std::uint8_t>(want[b + 1]) << 8));
        const auto g = static_cast<std::int16_t>(static_cast<std::uint8_t>(r.body[b]) |
                                                 (static_cast<std::uint8_t>(r.body[b + 1]) << 8));
        worst = std::max(worst, std::abs(a - g));
      }
      EXPECT_LE(worst, 33) << "request " << i;
    }
  }
  ASSERT_TRUE(testing::wait_for([&] { return server->metrics().in_flight.load() == 0; }));
  const testing::Exposition e =
      testing::parse_exposition(request(server->port(), http::verb::get, "/metrics").body);
  const double batches = e.count("chatterd_vocoder_batch_size");
  const double windows = e.count("chatterd_vocoder_wait_seconds");
  EXPECT_GT(batches, 0);
  EXPECT_GE(windows, 6 * 2);  // six requests, at least two windows each (first chunk + rest)
  EXPECT_EQ(e.value("chatterd_vocoder_batch_size_sum"), windows);
  double by_trigger = 0;
  for (const char* t : {"full", "early", "timeout", "fast_path"}) {
    by_trigger += e.value("chatterd_vocoder_batches_total", {{"trigger", t}});
  }
  EXPECT_EQ(by_trigger, batches);
  // The requests run one by one went the fast path.
  EXPECT_GE(e.value("chatterd_vocoder_batches_total", {{"trigger", "fast_path"}}), 6);
  const json status =
      json::parse(request(server->port(), http::verb::get, "/optimization-status").body);
  const json& b = status.at("batching");
  EXPECT_EQ(b["vocoder_batch"], 3);
  EXPECT_EQ(b["vocoder_windows"].get<double>(), windows);
  EXPECT_EQ(status["scheduler"]["workers"], 3) << status.dump();
}

TEST(ServingVocoderBatching, SettingsAreValidatedAndEspeakRefusesThem) {
  ServerConfig c = testing::loopback_config();
  c.vocoder_batch = 0;
  EXPECT_THROW(c.validate(), InvalidArgument);
  c.vocoder_batch = 2;
  c.vocoder_early_fire_ratio = 1.5;
  EXPECT_THROW(c.validate(), InvalidArgument);
  c.vocoder_early_fire_ratio = 0.5;
  c.vocoder_max_wait_ms = -1;
  EXPECT_THROW(c.validate(), InvalidArgument);
  c.vocoder_max_wait_ms = 2;
  EXPECT_NO_THROW(c.validate());
  set_config_value(c, "vocoder_batch", "4", "test");
  set_config_value(c, "vocoder_max_wait_ms", "7.5", "test");
  EXPECT_EQ(c.vocoder_batch, 4);
  EXPECT_EQ(c.vocoder_max_wait_ms, 7.5);
  c.model = "espeak";
  EXPECT_THROW(Server::create(c), Unsupported);
}

}  // namespace
}  // namespace chatterd::serving
