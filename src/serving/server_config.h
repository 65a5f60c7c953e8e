#pragma once
// Everything `chatterd serve` can be told, typed and checked once at start-up.
//
// Every setting has one key (the table in server_config.cc, documented in docs/api.md). Sources,
// later ones winning: built-in defaults < config file (JSON object, --config FILE) < environment
// (CHATTERD_<KEY in upper case>) < command-line flags (--<key with '-' for '_'>).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chatterd/engine/tts_engine.h"

namespace chatterd::serving {

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: an ephemeral port (Server::port() tells which)
  std::string model = "espeak";
  int n_threads = 0;                        // engine threads; 0: one per core
  WeightDType t3_dtype = WeightDType::F32;  // T3 matrix weights (--dtype f32|f16|bf16|int8|int4)
  WeightDType vocoder_dtype = WeightDType::F32;  // S3Gen + HiFT matmuls (f32|bf16)
  DeviceSpec device;                             // where T3 decodes (--device cpu|cuda|cuda:N)
  int io_threads = 2;                    // threads running the io_context (they never synthesise)
  std::size_t max_text_chars = 5000;     // code points; longer: 413
  std::size_t max_queue = 16;            // admitted requests waiting or running; more: 429
  std::size_t max_body_bytes = 1 << 20;  // request body; larger: 413
  std::size_t max_upload_bytes = 32u << 20;  // POST /v1/voices body (an audio clip)
  std::size_t max_streams = 32;   // open WebSocket streams + streamed HTTP responses; more: 429
  std::size_t max_contexts = 16;  // WebSocket contexts open at once on one socket
  // Open TCP connections (HTTP + WebSocket) at once; more are answered 503 and closed.
  std::size_t max_connections = 512;
  // Open connections from one peer address; more get 429 and are closed (0: no per-peer limit).
  // Keeps one client's flood from taking every connection the others need.
  std::size_t max_connections_per_ip = 64;
  std::chrono::seconds request_timeout{60};       // read of one request / each write to the client
  std::chrono::seconds stream_idle_timeout{300};  // a WebSocket with no frame from the client
  std::chrono::seconds shutdown_grace{10};        // in-flight work gets this long after SIGTERM
  int default_chunk_tokens = 50;       // speech tokens per streamed chunk unless a request says
  int max_speech_tokens = 0;           // default cap per request (0: the model's own)
  int max_speech_tokens_limit = 4096;  // the largest cap a request may ask for
  std::string voice_store;             // folder for uploaded voices; "" = memory only
  std::optional<std::string> api_key;  // when set: "Authorization: Bearer KEY" required
  // > 1: continuous batching of T3 over up to this many requests running at once (Turbo/Nano).
  int max_batch = 1;
  // > 1: the S3Gen flow solves of up to this many concurrent requests run as one batch
  // (VocoderBatcher; Chatterbox models). Fires early at vocoder_early_fire_ratio of the expected
  // batch or when the oldest window waited vocoder_max_wait_ms.
  int vocoder_batch = 1;
  double vocoder_max_wait_ms = 5.0;
  double vocoder_early_fire_ratio = 0.75;
  // > 0: run only as many requests at once as keep the measured real-time factor at or below
  // this; the rest wait in the queue (serving/scheduler.h). 0: off.
  double realtime_budget = 0.0;
  // Non-empty: record Chrome trace events (Perfetto / chrome://tracing) of the first
  // `trace_requests` syntheses and write them to this file at graceful shutdown. "": off.
  std::string trace_file;
  int trace_requests = 20;
  // The request cache (CachingEngine): identical seeded requests replay stored audio. Its LRU
  // budget in MiB; 0: off.
  int request_cache_mb = 256;

  // Throws InvalidArgument listing every problem at once.
  void validate() const;
  // One "key = value" per line; the API key is shown only as set/unset.
  std::string to_string() const;
  // The same as a JSON object text (api_key as "set"/"unset").
  std::string to_json() const;
};

// The keys, in to_string() order.
const std::vector<std::string_view>& config_keys();
// Sets `key` from its text form (integers strict, seconds as integers); throws InvalidArgument
// naming `source`, the key and the value.
void set_config_value(ServerConfig& config, std::string_view key, const std::string& value,
                      std::string_view source);
// A JSON object of keys -> numbers/strings/booleans. Unknown keys and wrong types throw.
void apply_config_json(ServerConfig& config, std::string_view json_text, std::string_view source);
void apply_config_file(ServerConfig& config, const std::string& path);
// CHATTERD_<KEY> for every key; `getenv` is injectable for tests.
void apply_config_env(ServerConfig& config, const std::function<const char*(const char*)>& getenv);
std::string env_name(std::string_view key);   // "max_queue" -> "CHATTERD_MAX_QUEUE"
std::string flag_name(std::string_view key);  // "max_queue" -> "--max-queue"

}  // namespace chatterd::serving
