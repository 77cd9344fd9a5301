// The `ember` program: one binary, one subcommand per job (train, evaluate, visualize, stats, sweep, scale).
#include <algorithm>
#include <cstdio>
#include <exception>

#include "base/error.h"
#include "tools/command.h"

namespace ember::tools {
std::vector<CommandSpec>& command_registry() {
  static std::vector<CommandSpec> registry;
  return registry;
}
}  // namespace ember::tools

int main(int argc, char** argv) {
  using namespace ember::tools;
  CLI::App app{"ember: a deep-learning engine for image classifiers (CPU and CUDA)", "ember"};
  app.require_subcommand(1);
  auto& registry = command_registry();
  std::sort(registry.begin(), registry.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::vector<std::pair<CLI::App*, CommandRun>> runs;
  for (const CommandSpec& spec : registry) {
    CLI::App* cmd = app.add_subcommand(spec.name, spec.description);
    runs.emplace_back(cmd, spec.setup(*cmd));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (auto& [cmd, run] : runs) {
    if (!cmd->parsed()) continue;
    try {
      return run();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ember %s: error: %s\n", cmd->get_name().c_str(), e.what());
      return 1;
    }
  }
  return 1;
}
