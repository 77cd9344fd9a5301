#include "tools/sweep.h"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <ostream>

#include "base/error.h"
#include "tools/evaluate.h"
#include "tools/results_folder.h"
#include "tools/trainer.h"

namespace ember::tools {

namespace fs = std::filesystem;

std::string sweep_table(const std::vector<SweepRow>& rows) {
  std::string md =
      "| config | experiment | model | MFLOPs/img | train img/s | best epoch | val loss | val acc | test loss | test "
      "acc "
      "| test precision | test recall | test F1 | results "
      "|\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const SweepRow& r : rows) {
    char buf[1024];
    if (r.best_epoch < 0) {
      std::snprintf(buf, sizeof buf, "| %s | %s | %s | %.1f | %.1f | %s | | | | | | | | %s |\n", r.config_file.c_str(),
                    r.experiment.c_str(), r.model.c_str(), r.mflops_per_image, r.train_images_per_s,
                    r.diverged ? "diverged" : "none", r.results_dir.c_str());
    } else {
      std::snprintf(buf, sizeof buf,
                    "| %s | %s | %s | %.1f | %.1f | %lld%s | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %s |\n",
                    r.config_file.c_str(), r.experiment.c_str(), r.model.c_str(), r.mflops_per_image,
                    r.train_images_per_s, static_cast<long long>(r.best_epoch), r.diverged ? " (then diverged)" : "",
                    r.val_loss, r.val_acc, r.test_loss, r.test_acc, r.test_precision, r.test_recall, r.test_f1,
                    r.results_dir.c_str());
    }
    md += buf;
  }
  return md;
}

std::vector<SweepRow> run_sweep(const std::vector<std::string>& config_files,
                                const std::function<void(TrainConfig&)>& override_config, std::ostream& out,
                                std::string* summary_path) {
  EMBER_CHECK(!config_files.empty(), "sweep: no config files given");
  // Read and check every file first, so a typo in the last one does not waste the first runs.
  std::vector<TrainConfig> configs;
  for (const std::string& file : config_files) {
    TrainConfig c;
    load_config_file(c, file);
    if (override_config) override_config(c);
    validate(c);
    configs.push_back(c);
  }
  std::vector<SweepRow> rows;
  for (size_t k = 0; k < configs.size(); ++k) {
    const TrainConfig& c = configs[k];
    out << "== sweep " << k + 1 << "/" << configs.size() << ": " << config_files[k] << "\n";
    const TrainResult t = train(c, out);
    SweepRow r;
    r.config_file = fs::path(config_files[k]).filename().string();
    r.experiment = c.experiment_name;
    r.model = c.model;
    r.results_dir = t.results_dir;
    r.best_epoch = t.best_epoch;
    r.diverged = t.diverged;
    r.mflops_per_image = 1e-6 * double(t.forward_flops_per_image);
    double images = 0, seconds = 0;  // the first epoch pays for warm-up (allocator, oneDNN primitives) when others ran
    for (size_t e = t.history.size() > 1 ? 1 : 0; e < t.history.size(); ++e) {
      images += t.history[e].images_per_second * t.history[e].train_seconds;
      seconds += t.history[e].train_seconds;
    }
    r.train_images_per_s = seconds > 0 ? images / seconds : 0;
    if (t.best_epoch >= 0) {
      const EpochFigures& best = t.history[static_cast<size_t>(t.best_epoch)];
      r.val_loss = best.val_loss;
      r.val_acc = best.val_acc;
      EvaluateOptions e;
      e.model = c.model;
      e.checkpoint = (fs::path(t.results_dir) / "best.safetensors").string();
      e.dataset = c.dataset;
      e.data_dir = c.data_dir;
      e.device = c.device;
      e.batch_size = c.val_batch_size;
      e.num_workers = c.num_workers;
      const EvaluateResult test = evaluate(e, out);
      r.test_loss = test.loss;
      r.test_acc = test.scores.accuracy;
      r.test_precision = test.scores.weighted.precision;
      r.test_recall = test.scores.weighted.recall;
      r.test_f1 = test.scores.weighted.f1;
    }
    rows.push_back(r);
  }
  const std::string table = sweep_table(rows);
  const std::string stamp = time_stamp();
  const fs::path path = fs::path(configs.front().out_dir) / (std::string("sweep_") + stamp + ".md");
  fs::create_directories(path.parent_path());
  write_text_file(path, "# sweep " + stamp + "\n\n" + table);
  out << "\n" << table << "summary: " << path.string() << "\n";
  if (summary_path) *summary_path = path.string();
  return rows;
}

}  // namespace ember::tools
