// chatterd: the command-line entry point. Each subcommand lives in its own tools/cmd_*.cc and
// registers itself through tools/commands.h; this file only parses and reports errors.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "chatterd/core/error.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"chatterd: Chatterbox text-to-speech engine and server"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "chatterd 0.1.0");
  const auto commands = chatterd::tools::register_commands(app);
  try {
    app.parse(argc, argv);
    return chatterd::tools::run_selected(commands);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const chatterd::Error& e) {
    std::fprintf(stderr, "chatterd: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chatterd: internal error: %s\n", e.what());
    return 2;
  }
}
