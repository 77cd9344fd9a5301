// `ember sweep`: the study's experiment series, one YAML file per run, evaluated and summarised.
//   ember sweep --configs configs/lr_*.yaml --epochs 5 --subset 5000
#include <iostream>
#include <memory>

#include "tools/command.h"
#include "tools/flags.h"
#include "tools/sweep.h"

namespace ember::tools {
namespace {

struct SweepFlags {
  std::vector<std::string> configs;
  SettingFlags overrides;
};

CommandRegistration reg("sweep", "Train one run per YAML config, test each best model, write a markdown summary",
                        [](CLI::App& cmd) -> CommandRun {
                          auto flags = std::make_shared<SweepFlags>();
                          cmd.add_option("--configs", flags->configs, "YAML config files, run in turn")
                              ->required()
                              ->check(CLI::ExistingFile);
                          add_setting_flags(
                              cmd, flags->overrides,
                              {"epochs", "subset", "device", "data_dir", "out_dir", "num_workers", "seed"});
                          return [flags] {
                            const auto rows = run_sweep(
                                flags->configs, [&](TrainConfig& c) { apply_setting_flags(c, flags->overrides); },
                                std::cout);
                            for (const SweepRow& r : rows)
                              if (r.diverged) return 2;
                            return 0;
                          };
                        });

}  // namespace
}  // namespace ember::tools
