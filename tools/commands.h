#pragma once
// Subcommand registry for the chatterd CLI. Each tools/cmd_<name>.cc defines
// `Command add_<name>_command(CLI::App&)`; register_commands wires them all.

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace chatterd::tools {

struct Command {
  CLI::App* app = nullptr;   // the subcommand, owned by the parent CLI::App
  std::function<int()> run;  // returns the process exit code
};

std::vector<Command> register_commands(CLI::App& app);
// Runs whichever subcommand was parsed.
int run_selected(const std::vector<Command>& commands);

// Where saved voices live unless --voices/--store says otherwise: $CHATTERD_VOICE_STORE, else
// ./chatterd-voices.
std::string default_voice_store();

// One per subcommand (see tools/cmd_*.cc).
Command add_inspect_command(CLI::App& app);
Command add_parity_command(CLI::App& app);
Command add_say_command(CLI::App& app);
Command add_voice_command(CLI::App& app);
Command add_serve_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_loadtest_command(CLI::App& app);

// "0.1.0 (git describe)" as known when the tool was configured (tools/cmd_bench.cc).
std::string chatterd_version_string();

}  // namespace chatterd::tools
