// `ember train`: the study's training script (cifar_10_train_rev_2.py) with its flags, plus ember's.
//   ember train --normalization N1_aug --val_size 10 --batch_size 256 --lr 0.001 --epochs 100
//               --optimization Adam --experiment_name optimal_model --model ResNet_34
#include <iostream>
#include <map>
#include <memory>

#include <filesystem>

#include "tools/command.h"
#include "tools/evaluate.h"
#include "tools/flags.h"
#include "tools/results_folder.h"
#include "tools/text.h"
#include "tools/trainer.h"
#include "tools/training_state.h"

namespace ember::tools {
namespace {

namespace fs = std::filesystem;

// --test: the study's closing table, the best and the last model on the test set (reports and picture grids in
// <results>/test_best and test_last), printed and written to <results>/test.txt.
void test_best_and_last(const TrainConfig& config, const TrainResult& r, std::ostream& out) {
  std::string table = "test set: model  epoch  loss    accuracy  precision  recall  f1\n";
  std::string folders;
  for (const char* which : {"best", "last"}) {
    EvaluateOptions e;
    e.model = config.model;
    e.checkpoint = (fs::path(r.results_dir) / (std::string(which) + ".safetensors")).string();
    e.dataset = config.dataset;
    e.data_dir = resolve_data_dir(config);
    e.device = config.device;
    e.batch_size = config.val_batch_size;
    e.num_workers = config.num_workers;
    std::ostream quiet(nullptr);
    const EvaluateResult t = evaluate(e, quiet);
    const int64_t epoch = which == std::string("best") ? r.best_epoch : r.history.back().epoch;
    char row[160];
    std::snprintf(row, sizeof row, "          %-5s %5lld  %.4f  %.4f    %.4f     %.4f  %.4f\n", which,
                  static_cast<long long>(epoch), t.loss, t.scores.accuracy, t.scores.weighted.precision,
                  t.scores.weighted.recall, t.scores.weighted.f1);
    table += row;
    folders += "  " + t.out_dir + "/{report.txt,wrong.png,correct.png}\n";
  }
  write_text_file(fs::path(r.results_dir) / "test.txt", table);
  out << "\n"
      << table << "pictures:\n  " << (fs::path(r.results_dir) / "curves.png").string() << "\n"
      << folders << std::flush;
}

struct TrainFlags {
  SettingFlags settings;
  std::string config_file, resume;
  int64_t stop_after_epochs = 0;
  bool test = false;
};

// `--resume auto`: the newest stopped run of this experiment under out_dir (both from the settings given), or ""
// for a new run. What job scripts run, so that a requeued job continues where the signal stopped it.
std::string resume_auto(const TrainFlags& flags) {
  TrainConfig config;
  if (!flags.config_file.empty()) load_config_file(config, flags.config_file);
  apply_setting_flags(config, flags.settings);
  return stopped_run(config.out_dir, config.experiment_name).string();
}

CommandRegistration reg(
    "train", "Train a model; results in <out_dir>/<experiment_name>_<date>_<time>/", [](CLI::App& cmd) -> CommandRun {
      auto flags = std::make_shared<TrainFlags>();
      cmd.add_option("--config", flags->config_file, "YAML file of settings (keys = flag names); flags override it");
      cmd.add_option("--resume", flags->resume,
                     "continue a stopped run: its results folder or training_state.safetensors "
                     "(its settings, then --config, then flags); 'auto': the newest unfinished run of "
                     "--experiment_name in --out_dir, else a new run (for job scripts that requeue)");
      cmd.add_option("--stop_after_epochs", flags->stop_after_epochs,
                     "end this invocation after N epochs (a job time limit); continue with "
                     "--resume");
      cmd.add_flag("--test", flags->test, "after training, evaluate the best and the last model on the test set");
      add_setting_flags(cmd, flags->settings);
      return [flags] {
        if (flags->resume == "auto") flags->resume = resume_auto(*flags);
        TrainConfig config = flags->resume.empty() ? TrainConfig{} : checkpoint_config(flags->resume);
        if (!flags->config_file.empty()) load_config_file(config, flags->config_file);
        apply_setting_flags(config, flags->settings);
        const TrainResult r = train(config, std::cout, flags->resume, flags->stop_after_epochs);
        if (r.diverged) return 2;
        if (r.stopped_by) return 128 + r.stopped_by;  // the shell's status for a signal
        if (flags->test && r.lead && !r.history.empty() && r.best_epoch >= 0) test_best_and_last(config, r, std::cout);
        return 0;
      };
    });

}  // namespace
}  // namespace ember::tools
