// Cost of the always-on serving instrumentation per request (docs/performance.md, "Serving
// metrics overhead"): what the worker books for one finished synthesis (record_synthesis with a
// Chatterbox engine's six stages and token timing, a streamed response's chunk gaps and
// deliveries, one lifecycle record), and a /metrics scrape with every family populated.

#include <benchmark/benchmark.h>

#include <future>

#include "serving/metrics.h"
#include "serving/request_log.h"
#include "serving/scheduler.h"

namespace chatterd::serving {
namespace {

constexpr int kChunksPerRequest = 10;  // a ~10 s streamed answer at 50 tokens per chunk

SynthesisStats chatterbox_like_stats() {
  SynthesisStats s;
  s.time_to_first_audio_ms = 180.0;
  s.total_ms = 2400.0;
  s.audio_seconds = 10.0;
  s.real_time_factor = 0.24;
  s.speech_tokens = 250;
  s.chunks = kChunksPerRequest;
  s.time_to_first_token_ms = 40.0;
  s.decode_steps = 249;
  s.decode_ms = 1500.0;
  s.stages = {{"text", 0.2},           {"t3_prefill", 35.0},   {"t3_decode", 1500.0},
              {"flow_encoder", 120.0}, {"flow_solver", 500.0}, {"hift", 240.0}};
  return s;
}

void BM_MetricsPerRequest(benchmark::State& state) {
  Metrics m;
  const SynthesisStats stats = chatterbox_like_stats();
  RequestRecord record{.chunks = kChunksPerRequest, .total_ms = 2400.0, .audio_seconds = 10.0};
  for (auto _ : state) {
    m.record_synthesis(stats);
    for (int i = 0; i < kChunksPerRequest; ++i) {
      if (i > 0) m.record_chunk_gap(0.2);
      m.record_chunk_delivery(0.001);
    }
    ++record.id;
    m.recent_requests.add(record);
  }
}
BENCHMARK(BM_MetricsPerRequest);

void BM_MetricsRender(benchmark::State& state) {
  Metrics m;
  const SynthesisStats stats = chatterbox_like_stats();
  for (int i = 0; i < 100; ++i) {
    m.record_synthesis(stats);
    m.record_chunk_gap(0.2);
    m.batch_size.observe(4);
    m.count_response(200);
  }
  for (auto _ : state) benchmark::DoNotOptimize(m.render());
}
BENCHMARK(BM_MetricsRender);

void BM_RecentRequestsJson(benchmark::State& state) {
  RequestLog log;
  for (std::uint64_t i = 0; i < RequestLog::kCapacity; ++i) log.add(RequestRecord{.id = i});
  for (auto _ : state) benchmark::DoNotOptimize(log.to_json());
}
BENCHMARK(BM_RecentRequestsJson);

// An engine that answers at once with ten chunks: the whole scheduler path (admission, worker
// hand-off, instrumentation, completion) per job, for scale.
class InstantEngine : public TtsEngine {
 public:
  InstantEngine() { info_.name = "instant"; }
  const EngineInfo& info() const override { return info_; }
  SynthesisResult synthesize(const SynthesisRequest&, const ChunkCallback& on_chunk) override {
    SynthesisResult r;
    const float sample = 0.0f;
    for (int i = 0; i < kChunksPerRequest; ++i) {
      if (on_chunk) on_chunk(AudioChunk{.samples = {&sample, 1}, .index = i});
    }
    r.stats = chatterbox_like_stats();
    return r;
  }

 private:
  EngineInfo info_;
};

void BM_SchedulerInstantJob(benchmark::State& state) {
  InstantEngine engine;
  Metrics metrics;
  Scheduler scheduler(engine, SchedulerConfig{.max_queue = 4, .workers = 1}, metrics);
  for (auto _ : state) {
    std::promise<void> done;
    SynthesisJob job;
    job.on_chunk = [](const AudioChunk&) { return true; };
    job.on_done = [&done](SynthesisResult, const std::exception_ptr&) { done.set_value(); };
    scheduler.submit(std::move(job));
    done.get_future().wait();
  }
}
BENCHMARK(BM_SchedulerInstantJob)->UseRealTime();

}  // namespace
}  // namespace chatterd::serving
