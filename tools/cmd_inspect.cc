#include <cstdio>
#include <memory>
#include <string>

#include "models/inspect.h"
#include "tools/commands.h"

namespace chatterd::tools {

Command add_inspect_command(CLI::App& app) {
  auto* sub = app.add_subcommand("inspect",
                                 "Describe a model directory: variant, files, tensors, mismatches");
  struct Args {
    std::string dir;
    bool summary = false;
  };
  auto args = std::make_shared<Args>();
  sub->add_option("dir", args->dir, "model directory (Hugging Face layout)")->required();
  sub->add_flag("--summary", args->summary, "counts and findings only, no tensor list");
  return {sub, [args] {
            const InspectReport report = inspect_model_dir(args->dir);
            std::fputs(report.to_string(!args->summary).c_str(), stdout);
            return report.ok() ? 0 : 1;
          }};
}

}  // namespace chatterd::tools
