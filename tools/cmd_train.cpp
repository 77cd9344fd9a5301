// `ember train`: the study's training script (cifar_10_train_rev_2.py) with its flags, plus ember's.
//   ember train --normalization N1_aug --val_size 10 --batch_size 256 --lr 0.001 --epochs 100
//               --optimization Adam --experiment_name optimal_model --model ResNet_34
#include <iostream>
#include <map>
#include <memory>

#include "tools/command.h"
#include "tools/flags.h"
#include "tools/trainer.h"
#include "tools/training_state.h"

namespace ember::tools {
namespace {

struct TrainFlags {
  SettingFlags settings;
  std::string config_file, resume;
  int64_t stop_after_epochs = 0;
};

CommandRegistration reg("train", "Train a model; results in <out_dir>/<experiment_name>_<date>_<time>/",
                        [](CLI::App& cmd) -> CommandRun {
                          auto flags = std::make_shared<TrainFlags>();
                          cmd.add_option("--config", flags->config_file,
                                         "YAML file of settings (keys = flag names); flags override it");
                          cmd.add_option("--resume", flags->resume,
                                         "continue a stopped run: its results folder or training_state.safetensors "
                                         "(its settings, then --config, then flags)");
                          cmd.add_option("--stop_after_epochs", flags->stop_after_epochs,
                                         "end this invocation after N epochs (a job time limit); continue with "
                                         "--resume");
                          add_setting_flags(cmd, flags->settings);
                          return [flags] {
                            TrainConfig config = flags->resume.empty() ? TrainConfig{} : checkpoint_config(flags->resume);
                            if (!flags->config_file.empty()) load_config_file(config, flags->config_file);
                            apply_setting_flags(config, flags->settings);
                            const TrainResult r = train(config, std::cout, flags->resume, flags->stop_after_epochs);
                            return r.diverged ? 2 : 0;
                          };
                        });

}  // namespace
}  // namespace ember::tools
