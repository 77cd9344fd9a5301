// A series of training runs from YAML files (the study's experiment series), each evaluated on the test set
// with its best checkpoint, summarised in one markdown table written to <out_dir>/sweep_<date>_<time>.md.
#pragma once
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "tools/config.h"

namespace ember::tools {

struct SweepRow {
  std::string config_file, experiment, model, results_dir;
  int64_t best_epoch = -1;
  bool diverged = false;
  double val_loss = 0, val_acc = 0, test_loss = 0, test_acc = 0, test_precision = 0, test_recall = 0, test_f1 = 0;
  double mflops_per_image = 0;    // one image's forward pass (models::forward_flops_per_image)
  double train_images_per_s = 0;  // the training passes' img/s weighted by their seconds, every epoch but the first
};

// override_config is applied to every config after its file (the sweep's --epochs, --subset, ...).
// Returns the rows; the table is printed to `out` and written to summary_path (set on return).
std::vector<SweepRow> run_sweep(const std::vector<std::string>& config_files,
                                const std::function<void(TrainConfig&)>& override_config, std::ostream& out,
                                std::string* summary_path = nullptr);
std::string sweep_table(const std::vector<SweepRow>& rows);

}  // namespace ember::tools
