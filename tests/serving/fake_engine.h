#pragma once
// A scripted TtsEngine for the server tests: fixed chunks, an optional gate that holds the
// synthesis after the first chunk, and a record of cancellations.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "chatterd/engine/tts_engine.h"

namespace chatterd::serving::testing {

class FakeEngine : public TtsEngine {
 public:
  FakeEngine() { info_ = {.name = "fake", .sample_rate_hz = 24000, .voices = {"v1"}}; }
  const EngineInfo& info() const override { return info_; }

  SynthesisResult synthesize(const SynthesisRequest& request,
                             const ChunkCallback& on_chunk) override {
    ++calls;
    {
      const std::lock_guard lock(mutex_);
      last_voice_ = request.voice;
      texts_.push_back(request.text);
    }
    SynthesisResult result;
    // text_valued: each request's audio is 0.01 x its text length, so tests can tell whose it is.
    const float value = text_valued ? 0.01f * static_cast<float>(request.text.size()) : 0.25f;
    const std::vector<float> chunk(static_cast<std::size_t>(samples_per_chunk), value);
    // "short" always takes 3 undelayed chunks: a quick request beside a slow one.
    const bool quick = request.text == "short";
    const int total = quick ? 3 : n_chunks;
    for (int i = 0; i < total; ++i) {
      if (i == 1 && gated) {
        std::unique_lock lock(mutex_);
        started_ = true;
        started_cv_.notify_all();
        gate_cv_.wait(lock, [this] { return open_; });
      }
      if (i > 0 && !quick && chunk_delay.count() > 0) std::this_thread::sleep_for(chunk_delay);
      result.samples.insert(result.samples.end(), chunk.begin(), chunk.end());
      const AudioChunk c{
          .samples = chunk, .sample_rate_hz = 24000, .index = i, .is_last = i + 1 == total};
      if (on_chunk && !on_chunk(c)) {
        result.cancelled = true;
        ++cancellations;
        break;
      }
    }
    result.stats.audio_seconds = static_cast<double>(result.samples.size()) / 24000.0;
    result.stats.total_ms = 1.0;
    result.stats.time_to_first_audio_ms = 0.5;
    result.stats.real_time_factor = 0.01;
    // Two stages and token timing, as an autoregressive engine reports them (the metrics tests).
    result.stats.stages = {{"fake_prefill", 0.3}, {"fake_decode", 0.6, kDecodePeakRssBytes}};
    result.stats.time_to_first_token_ms = 0.3;
    result.stats.decode_steps = 3;
    result.stats.decode_ms = 0.6;
    result.stats.speech_tokens = 4;
    result.stats.chunks = total;
    return result;
  }

  void open_gate() {
    const std::lock_guard lock(mutex_);
    open_ = true;
    gate_cv_.notify_all();
  }
  // Waits until a synthesis is held at the gate.
  void wait_started() {
    std::unique_lock lock(mutex_);
    started_cv_.wait(lock, [this] { return started_; });
  }
  std::string last_voice() {
    const std::lock_guard lock(mutex_);
    return last_voice_;
  }
  std::vector<std::string> texts() {
    const std::lock_guard lock(mutex_);
    return texts_;
  }

  // The peak resident set the decode stage reports (the prefill reports none: not measured).
  static constexpr std::int64_t kDecodePeakRssBytes = 64 * 1024 * 1024;

  // Set before the server starts.
  int n_chunks = 3;
  int samples_per_chunk = 2400;
  bool gated = false;
  bool text_valued = false;
  std::chrono::milliseconds chunk_delay{0};
  std::atomic<int> calls{0};
  std::atomic<int> cancellations{0};

 private:
  EngineInfo info_;
  std::mutex mutex_;
  std::condition_variable gate_cv_, started_cv_;
  bool open_ = false;
  bool started_ = false;
  std::string last_voice_;
  std::vector<std::string> texts_;
};

}  // namespace chatterd::serving::testing
