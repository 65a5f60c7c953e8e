#pragma once
// What every connection reads and the few things it may change, owned by the Server and outliving
// every session's handlers. Mutable parts are atomics or guarded by their own mutex.

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>

#include "chatterd/engine/tts_engine.h"
#include "serving/api_request.h"
#include "serving/metrics.h"
#include "serving/scheduler.h"
#include "serving/server_config.h"
#include "serving/session_registry.h"
#include "serving/voice_service.h"

namespace chatterd::serving {

// POST /configure-streaming: defaults for requests that do not say.
struct StreamingDefaults {
  int chunk_tokens = 50;
  int max_speech_tokens = 0;  // 0: the model's own limit
};

class ServerState {
 public:
  ServerState(const ServerConfig& config_in, const EngineInfo& engine_info_in,
              Scheduler& scheduler_in, Metrics& metrics_in, VoiceService& voices_in,
              SessionRegistry& ws_sessions_in)
      : config(config_in),
        engine_info(engine_info_in),
        scheduler(scheduler_in),
        metrics(metrics_in),
        voices(voices_in),
        ws_sessions(ws_sessions_in),
        defaults_{config_in.default_chunk_tokens, config_in.max_speech_tokens} {}

  const ServerConfig& config;
  // name and sample rate only; the voice list changes: use engine_snapshot() / voices.
  const EngineInfo& engine_info;
  Scheduler& scheduler;
  Metrics& metrics;
  VoiceService& voices;
  // Open WebSockets (told to go away on shutdown); outlives the io_context, as metrics does.
  SessionRegistry& ws_sessions;
  std::atomic<bool> shutting_down{false};

  // engine_info with the current voice list (for parsing requests).
  EngineInfo engine_snapshot() const {
    EngineInfo e{.name = engine_info.name,
                 .sample_rate_hz = engine_info.sample_rate_hz,
                 .voices = voices.names()};
    return e;
  }
  StreamingDefaults streaming_defaults() const {
    const std::lock_guard lock(mutex_);
    return defaults_;
  }
  void set_streaming_defaults(const StreamingDefaults& d) {
    const std::lock_guard lock(mutex_);
    defaults_ = d;
  }
  RequestLimits limits() const {
    const StreamingDefaults d = streaming_defaults();
    return RequestLimits{.max_text_chars = config.max_text_chars,
                         .default_chunk_tokens = d.chunk_tokens,
                         .default_max_speech_tokens = d.max_speech_tokens,
                         .max_speech_tokens_limit = config.max_speech_tokens_limit};
  }
  // Admission of a stream (WebSocket or streamed HTTP response): false when max_streams are open.
  bool try_open_stream() {
    std::int64_t n = metrics.active_streams.load();
    do {
      if (n >= static_cast<std::int64_t>(config.max_streams)) return false;
    } while (!metrics.active_streams.compare_exchange_weak(n, n + 1));
    return true;
  }
  void close_stream() { metrics.active_streams.fetch_sub(1); }

 private:
  mutable std::mutex mutex_;
  StreamingDefaults defaults_;
};

}  // namespace chatterd::serving
