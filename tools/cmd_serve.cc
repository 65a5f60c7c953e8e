// chatterd serve: the HTTP/WebSocket server (docs/api.md). Settings come from, later winning:
// built-in defaults < --config FILE (JSON) < CHATTERD_* environment < flags. Prints the effective
// config (API key redacted), serves until SIGINT or SIGTERM, then shuts down gracefully.

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "serving/net.h"
#include "serving/server.h"
#include "tools/commands.h"

namespace chatterd::tools {
namespace {

const char* help_for(std::string_view key) {
  static const std::map<std::string_view, const char*> kHelp{
      {"host", "address to listen on"},
      {"port", "TCP port (0: any free port)"},
      {"model", "espeak | espeak:VOICE | model directory | synthetic:VARIANT"},
      {"threads", "engine CPU threads (0: one per core)"},
      {"dtype", "T3 matrix weights: f32 | f16 | bf16 | int8 | int4"},
      {"vocoder_dtype", "S3Gen + HiFT matmuls and convs: f32 | bf16 (AVX512_BF16 CPUs)"},
      {"device", "where the model runs: cpu | cuda | cuda:N (Chatterbox models)"},
      {"io_threads", "HTTP I/O threads"},
      {"max_text_chars", "longest text accepted (code points)"},
      {"max_queue", "synthesis jobs admitted at once; more get 429"},
      {"max_body_bytes", "largest request body / WebSocket message"},
      {"max_upload_bytes", "largest voice clip upload"},
      {"max_streams", "open WebSocket streams + streamed responses; more get 429"},
      {"max_contexts", "open contexts per WebSocket"},
      {"max_connections", "open TCP connections at once; more get 503 and are closed"},
      {"max_connections_per_ip",
       "open connections from one peer address; more get 429 (0: no per-peer limit)"},
      {"timeout", "seconds per request read / response write"},
      {"stream_idle_timeout", "seconds a WebSocket may stay silent"},
      {"shutdown_grace", "seconds in-flight work gets on SIGTERM"},
      {"chunk_size", "default speech tokens per streamed chunk (25..200)"},
      {"max_speech_tokens", "default cap on speech tokens per request (0: the model's)"},
      {"max_speech_tokens_limit", "largest max_speech_tokens a request may ask for"},
      {"voice_store", "folder for uploaded voices (empty: memory only)"},
      {"api_key", "require 'Authorization: Bearer KEY'"},
      {"max_batch", "requests batched together in T3 (Turbo/Nano; 1: one at a time)"},
      {"vocoder_batch", "requests whose S3Gen flow solves run as one batch (1: none)"},
      {"vocoder_max_wait_ms", "a vocoder window waits at most this long for a batch"},
      {"vocoder_early_fire_ratio", "fire a vocoder batch once this share of it waits"},
      {"realtime_budget", "run only as many requests at once as keep RTF <= this (0: off)"},
      {"trace", "write Chrome trace events of the first requests to FILE at shutdown"},
      {"trace_requests", "how many requests --trace records"},
      {"request_cache_mb",
       "MiB of audio kept for identical seeded requests to replay (0: no request cache)"}};
  const auto it = kHelp.find(key);
  return it == kHelp.end() ? "" : it->second;
}

}  // namespace

Command add_serve_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "serve",
      "Serve text-to-speech over HTTP and WebSocket (see docs/api.md). Precedence: defaults < "
      "--config FILE < CHATTERD_* environment < flags");
  struct Args {
    std::string config_file;
    std::map<std::string, std::string, std::less<>> values;
    std::map<std::string, CLI::Option*, std::less<>> options;
  };
  auto args = std::make_shared<Args>();
  sub->add_option("--config", args->config_file,
                  "JSON object of settings (keys as the flags, '_')");
  const nlohmann::json defaults = nlohmann::json::parse(serving::ServerConfig{}.to_json());
  for (std::string_view key : serving::config_keys()) {
    const std::string k(key);
    const nlohmann::json& d = defaults.at(k);
    std::string help = help_for(key);
    if (key != "api_key") {
      help += " [default: " + (d.is_string() ? d.get<std::string>() : d.dump()) + "; env " +
              serving::env_name(key) + "]";
    } else {
      help += " [env " + serving::env_name(key) + "]";
    }
    args->options[k] = sub->add_option(serving::flag_name(key), args->values[k], help);
  }
  return {sub, [args] {
            serving::ServerConfig config;
            if (!args->config_file.empty()) serving::apply_config_file(config, args->config_file);
            // NOLINTNEXTLINE(concurrency-mt-unsafe): before any thread starts
            serving::apply_config_env(config, [](const char* name) { return std::getenv(name); });
            for (const auto& [key, option] : args->options) {
              if (option->count() > 0) {
                serving::set_config_value(config, key, args->values.at(key),
                                          "flag " + serving::flag_name(key));
              }
            }
            config.validate();
            const std::unique_ptr<serving::Server> server = serving::Server::create(config);
            serving::ServerConfig shown = config;
            shown.port = server->port();
            std::fprintf(stderr, "chatterd serve (%s, %d Hz)\n%s",
                         server->engine_info().name.c_str(), server->engine_info().sample_rate_hz,
                         shown.to_string().c_str());
            // Handlers first: a supervisor may signal as soon as it reads "listening on", and
            // a SIGTERM before this would kill the process (exit 143) instead of stopping it.
            serving::net::io_context signals_ioc;
            serving::net::signal_set signals(signals_ioc, SIGINT, SIGTERM);
            server->start();
            std::fprintf(stderr, "listening on http://%s:%u\n", config.host.c_str(),
                         static_cast<unsigned>(server->port()));
            signals.async_wait([](const boost::system::error_code&, int signo) {
              std::fprintf(stderr, "signal %d: shutting down\n", signo);
            });
            signals_ioc.run();
            server->shutdown();
            std::fprintf(stderr, "stopped\n");
            return 0;
          }};
}

}  // namespace chatterd::tools
