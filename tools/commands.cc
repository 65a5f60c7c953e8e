#include "tools/commands.h"

namespace chatterd::tools {

std::vector<Command> register_commands(CLI::App& app) {
  return {add_inspect_command(app), add_parity_command(app), add_say_command(app),
          add_serve_command(app)};
}

int run_selected(const std::vector<Command>& commands) {
  for (const Command& c : commands) {
    if (c.app != nullptr && c.app->parsed()) return c.run();
  }
  return 1;
}

}  // namespace chatterd::tools
