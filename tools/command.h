// Subcommands of the `ember` program register themselves here, one file each (tools/cmd_<name>.cpp):
//
//   static ember::tools::CommandRegistration reg("stats", "Per-class counts and channel statistics",
//       [](CLI::App& cmd) -> ember::tools::CommandRun {
//         auto opts = std::make_shared<StatsOptions>();
//         cmd.add_option("--data_dir", opts->data_dir, "...");
//         return [opts] { return run_stats(*opts); };   // exit status
//       });
//
// main() builds the CLI11 app from the registry, runs the chosen command, and turns an ember::Error (or any
// std::exception) into "ember <command>: error: <message>" and exit status 1.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace ember::tools {

using CommandRun = std::function<int()>;
using CommandSetup = std::function<CommandRun(CLI::App& cmd)>;

struct CommandSpec {
  std::string name;
  std::string description;
  CommandSetup setup;
};

std::vector<CommandSpec>& command_registry();

struct CommandRegistration {
  CommandRegistration(std::string name, std::string description, CommandSetup setup) {
    command_registry().push_back({std::move(name), std::move(description), std::move(setup)});
  }
};

}  // namespace ember::tools
