// ember stats: per-class counts and per-channel mean/std (pixels in [0,1]) of a dataset's training split
// (after holding out --val_size percent, if asked), its validation part, and its test set.
#include <cstdio>
#include <memory>

#include "data/dataset.h"
#include "data/normalize.h"
#include "data/split.h"
#include "tools/command.h"

namespace ember::tools {
namespace {

struct StatsOptions {
  std::string dataset = "cifar10", data_dir;
  double val_size = 0;
  uint64_t seed = 0;
};

void report(const char* title, const data::ImageDataset& d, const std::vector<int64_t>& indices) {
  const std::vector<int64_t> counts = data::class_counts(d, indices);
  int64_t total = 0;
  for (int64_t n : counts) total += n;
  std::printf("%s: %lld images, %lldx%lldx%lld\n", title, (long long)total, (long long)d.channels, (long long)d.height,
              (long long)d.width);
  for (size_t c = 0; c < counts.size(); ++c)
    std::printf("  %2zu %-12s %7lld  (%.2f%%)\n", c, d.class_names[c].c_str(), (long long)counts[c],
                total ? 100.0 * counts[c] / total : 0.0);
  if (total == 0) return;
  const data::Normalization s = data::channel_stats(d, indices);
  std::printf("  mean (");
  for (size_t c = 0; c < s.mean.size(); ++c) std::printf("%s%.4f", c ? ", " : "", s.mean[c]);
  std::printf(")  std (");
  for (size_t c = 0; c < s.std.size(); ++c) std::printf("%s%.4f", c ? ", " : "", s.std[c]);
  std::printf(")\n");
}

int run_stats(const StatsOptions& o) {
  const std::string dir = o.data_dir.empty() ? data::default_data_dir(o.dataset) : o.data_dir;
  std::printf("dataset %s from %s\n", o.dataset.c_str(), dir.c_str());
  const data::ImageDataset train = data::load_dataset(o.dataset, dir, true);
  if (o.val_size > 0) {
    const data::Split split = data::split_train_val(train, o.val_size, o.seed);
    report("train split", train, split.train);
    report("validation split", train, split.val);
  } else {
    report("train", train, {});
  }
  report("test", data::load_dataset(o.dataset, dir, false), {});
  return 0;
}

CommandRegistration reg(
    "stats", "Per-class counts and per-channel mean/std of a dataset", [](CLI::App& cmd) -> CommandRun {
      auto o = std::make_shared<StatsOptions>();
      cmd.add_option("--dataset", o->dataset, "cifar10 | mnist | fashion_mnist | folder")->capture_default_str();
      cmd.add_option("--data_dir", o->data_dir, "folder of the data (default: the usual places, see data/dataset.h)");
      cmd.add_option("--val_size", o->val_size, "percent of the training set held out for validation")
          ->capture_default_str();
      cmd.add_option("--seed", o->seed, "seed of the train/validation split")->capture_default_str();
      return [o] { return run_stats(*o); };
    });

}  // namespace
}  // namespace ember::tools
