// chatterd serve: the HTTP server (docs/api.md). Prints the effective config, serves until SIGINT
// or SIGTERM, then shuts down gracefully.

#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "serving/net.h"
#include "serving/server.h"
#include "tools/commands.h"

namespace chatterd::tools {

Command add_serve_command(CLI::App& app) {
  auto* sub = app.add_subcommand("serve", "Serve text-to-speech over HTTP (see docs/api.md)");
  struct Args {
    serving::ServerConfig config;
    int timeout_s = 60;
    int grace_s = 10;
    std::string api_key;
  };
  auto args = std::make_shared<Args>();
  serving::ServerConfig& c = args->config;
  sub->add_option("--host", c.host, "address to listen on")->capture_default_str();
  sub->add_option("--port", c.port, "TCP port (0: any free port)")->capture_default_str();
  sub->add_option("--model", c.model, "espeak | espeak:VOICE | model directory | synthetic:VARIANT")
      ->capture_default_str();
  sub->add_option("--threads", c.n_threads, "engine CPU threads (0: one per core)")
      ->check(CLI::Range(0, 1024));
  sub->add_option("--io-threads", c.io_threads, "HTTP I/O threads")->capture_default_str();
  sub->add_option("--max-queue", c.max_queue, "requests admitted at once; more get 429")
      ->capture_default_str();
  sub->add_option("--max-text-chars", c.max_text_chars, "longest text accepted (code points)")
      ->capture_default_str();
  sub->add_option("--max-body-bytes", c.max_body_bytes, "largest request body")
      ->capture_default_str();
  sub->add_option("--timeout", args->timeout_s, "seconds per request read / response write")
      ->capture_default_str();
  sub->add_option("--shutdown-grace", args->grace_s, "seconds in-flight work gets on SIGTERM")
      ->capture_default_str();
  sub->add_option("--api-key", args->api_key,
                  "require 'Authorization: Bearer KEY' (default: env CHATTERD_API_KEY, else none)");
  return {sub, [args] {
            serving::ServerConfig config = args->config;
            config.request_timeout = std::chrono::seconds(args->timeout_s);
            config.shutdown_grace = std::chrono::seconds(args->grace_s);
            if (!args->api_key.empty()) {
              config.api_key = args->api_key;
            } else if (const char* env = std::getenv(
                           "CHATTERD_API_KEY");  // NOLINT(concurrency-mt-unsafe): before any thread
                       env && *env) {
              config.api_key = std::string(env);
            }
            config.validate();
            const std::unique_ptr<serving::Server> server = serving::Server::create(config);
            serving::ServerConfig shown = config;
            shown.port = server->port();
            std::fprintf(stderr, "chatterd serve (%s, %d Hz)\n%s",
                         server->engine_info().name.c_str(), server->engine_info().sample_rate_hz,
                         shown.to_string().c_str());
            server->start();
            std::fprintf(stderr, "listening on http://%s:%u\n", config.host.c_str(),
                         static_cast<unsigned>(server->port()));
            serving::net::io_context signals_ioc;
            serving::net::signal_set signals(signals_ioc, SIGINT, SIGTERM);
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
