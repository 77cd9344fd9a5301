// Every TrainConfig setting as a command-line flag of the same name (--lr, --batch_size, ...), for the
// commands that take settings (train, sweep). Flags are kept as text and applied over a config after the
// YAML file, so a flag given on the command line always wins.
#pragma once
#include <CLI/CLI.hpp>

#include <map>
#include <string>

#include "tools/config.h"

namespace ember::tools {

struct SettingFlags {
  std::map<std::string, std::string> text;  // values of the flags given (bool flags: "true")
  std::map<std::string, CLI::Option*> options;
  std::map<std::string, bool> switches;
};

// only: when non-empty, register just these settings.
void add_setting_flags(CLI::App& cmd, SettingFlags& flags, const std::vector<std::string>& only = {});
void apply_setting_flags(TrainConfig& config, const SettingFlags& flags);

}  // namespace ember::tools
