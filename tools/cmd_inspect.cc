#include <cstdio>
#include <string>

#include "tools/commands.h"

namespace chatterd::tools {

Command add_inspect_command(CLI::App& app) {
  auto* sub =
      app.add_subcommand("inspect", "Describe a model directory: variant, tensors, mismatches");
  auto dir = std::make_shared<std::string>();
  sub->add_option("dir", *dir, "model directory (Hugging Face layout)")->required();
  return {sub, [dir] {
            std::printf("inspect %s: not implemented yet\n", dir->c_str());
            return 1;
          }};
}

}  // namespace chatterd::tools
