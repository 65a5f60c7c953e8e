#include "tools/commands.h"

#include <cstdlib>

namespace chatterd::tools {

std::string default_voice_store() {
  if (const char* env = std::getenv("CHATTERD_VOICE_STORE"); env != nullptr && *env != '\0') {
    return env;
  }
  return "chatterd-voices";
}

std::vector<Command> register_commands(CLI::App& app) {
  return {add_inspect_command(app), add_parity_command(app), add_say_command(app),
          add_voice_command(app),   add_serve_command(app),  add_bench_command(app),
          add_loadtest_command(app)};
}

int run_selected(const std::vector<Command>& commands) {
  for (const Command& c : commands) {
    if (c.app != nullptr && c.app->parsed()) return c.run();
  }
  return 1;
}

}  // namespace chatterd::tools
