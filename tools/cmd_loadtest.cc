// chatterd loadtest URL: a concurrency ramp against a running `chatterd serve` (streamed HTTP or
// WebSocket contexts), results as JSON + SVG under benchmarks/results/.

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "serving/loadtest.h"
#include "tools/commands.h"

namespace chatterd::tools {

Command add_loadtest_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "loadtest",
      "Drive a running `chatterd serve` with a concurrency ramp: http:// posts "
      "/v1/audio/speech (streamed PCM), ws:// streams WebSocket contexts on /v1/stream; JSON + "
      "SVG under benchmarks/results/");
  struct Args {
    serving::LoadTestOptions options;
    std::string out_dir = "benchmarks/results";
  };
  auto args = std::make_shared<Args>();
  serving::LoadTestOptions& o = args->options;
  sub->add_option("url", o.url,
                  "the server: http://HOST[:PORT] or ws://HOST[:PORT] (loopback or a host you own)")
      ->required();
  sub->add_option("--levels", o.levels, "concurrent streams per level")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--requests", o.requests_per_level,
                  "requests per level (0: max(5, 2 x concurrency))")
      ->capture_default_str();
  sub->add_option("--level-seconds", o.level_seconds,
                  "time bound per level: no request starts after it")
      ->capture_default_str();
  sub->add_option("--timeout", o.request_timeout_seconds, "bound on one request, seconds")
      ->capture_default_str();
  sub->add_option("--text", o.text_name,
                  "standard text: ultra_short, short, medium, long, telephony_typical")
      ->capture_default_str();
  sub->add_option("--voice", o.voice, "voice name (default: the server's)");
  sub->add_option("--api-key", o.api_key, "sent as Authorization: Bearer KEY");
  sub->add_option("--note", o.note, "free text stored in metadata.note");
  sub->add_option("--out-dir", args->out_dir, "where the JSON and SVG go")->capture_default_str();
  return {sub, [args] {
            serving::LoadTestReport report = serving::run_loadtest(
                args->options,
                [](const std::string& line) { std::fprintf(stderr, "  %s\n", line.c_str()); });
            report.chatterd_version = chatterd_version_string();
            const auto files = serving::write_loadtest_outputs(report, args->out_dir);
            std::printf("%s\n", files.first.c_str());
            if (!files.second.empty()) std::printf("%s\n", files.second.c_str());
            return 0;
          }};
}

}  // namespace chatterd::tools
