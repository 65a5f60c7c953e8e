#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "chatterd/core/error.h"
#include "parity/parity.h"
#include "tools/commands.h"

namespace chatterd::tools {

Command add_parity_command(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "parity", "Compare the engine with golden tensors from the reference implementation");
  struct Args {
    std::string model;
    std::vector<std::string> goldens;
    int threads = 1;
    std::string vocoder_dtype = "f32";
  };
  auto args = std::make_shared<Args>();
  sub->add_option("--model", args->model, "model directory the goldens were made with")->required();
  sub->add_option("--golden", args->goldens, "golden .safetensors file(s)")->required();
  sub->add_option("--threads", args->threads, "CPU threads (the result must not depend on it)")
      ->check(CLI::Range(1, 256));
  sub->add_option("--vocoder-dtype", args->vocoder_dtype,
                  "s3gen_flow / s3gen_hift with bf16 vocoder weights (held to a bf16 tolerance)")
      ->check(CLI::IsMember({"f32", "bf16"}))
      ->capture_default_str();
  return {sub, [args] {
            int failures = 0;
            for (const std::string& g : args->goldens) {
              try {
                const parity::ParityReport report = parity::run_parity(
                    args->model, g,
                    {.n_threads = args->threads, .bf16_vocoder = args->vocoder_dtype == "bf16"});
                std::fputs(report.to_string().c_str(), stdout);
                if (!report.passed()) ++failures;
              } catch (const Error& e) {  // one unreadable golden must not hide the others
                std::printf("%s\nFAIL: %s\n", g.c_str(), e.what());
                ++failures;
              }
            }
            std::printf("%zu golden file(s), %d failed\n", args->goldens.size(), failures);
            return failures == 0 ? 0 : 1;
          }};
}

}  // namespace chatterd::tools
