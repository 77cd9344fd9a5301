// ember export: a data set (or its first images) written as an image folder, train/<class>/*.png and
// test/<class>/*.png, optionally resized: e.g. CIFAR-10 at 64 x 64 for the context + fovea model (docs/task2.md),
// or any data set for another program. The folder is written beside its destination and renamed into place when
// complete, so an interrupted export leaves no half folder under the name.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <numeric>

#include "base/error.h"
#include "data/dataset.h"
#include "tools/command.h"

namespace ember::tools {
namespace {
namespace fs = std::filesystem;

struct ExportOptions {
  std::string dataset = "cifar10", data_dir, out;
  int64_t image_size = 0;  // 0: the data set's own size
  int64_t subset = 0, test_subset = 0;
};

std::vector<int64_t> first(int64_t n, int64_t size) {
  std::vector<int64_t> indices(n > 0 ? std::min(n, size) : size);
  std::iota(indices.begin(), indices.end(), int64_t(0));
  return indices;
}

int run_export(const ExportOptions& o) {
  EMBER_CHECK(!o.out.empty(), "--out is required");
  EMBER_CHECK(o.image_size >= 0 && o.image_size <= 4096, "--image_size ", o.image_size, " is not in [0, 4096]");
  EMBER_CHECK(o.subset >= 0 && o.test_subset >= 0, "--subset and --test_subset must be >= 0");
  fs::path out = fs::path(o.out).lexically_normal();
  if (!out.has_filename()) out = out.parent_path();  // "dir/" names dir
  EMBER_CHECK(!fs::exists(out), out.string(),
              ": already exists (export writes a new folder; remove it or pick another)");
  const std::string dir = o.data_dir.empty() ? data::default_data_dir(o.dataset) : o.data_dir;
  const data::ImageDataset train = data::load_dataset(o.dataset, dir, true);
  const data::ImageDataset test = data::load_dataset(o.dataset, dir, false);
  const fs::path partial = out.string() + ".partial";
  fs::remove_all(partial);
  const int64_t side = o.image_size;
  const std::vector<int64_t> train_indices = first(o.subset, train.size()),
                             test_indices = first(o.test_subset, test.size());
  data::write_image_folder(train, train_indices, (partial / "train").string(), side, side);
  data::write_image_folder(test, test_indices, (partial / "test").string(), side, side);
  fs::rename(partial, out);
  std::printf("%s: %zu training and %zu test images of %s (%lldx%lldx%lld) from %s\n", out.c_str(),
              train_indices.size(), test_indices.size(), o.dataset.c_str(), (long long)train.channels,
              (long long)(side ? side : train.height), (long long)(side ? side : train.width), dir.c_str());
  return 0;
}

CommandRegistration reg(
    "export", "Write a data set as an image folder of PNG files (train/<class>/, test/<class>/), optionally resized",
    [](CLI::App& cmd) -> CommandRun {
      auto o = std::make_shared<ExportOptions>();
      cmd.add_option("--dataset", o->dataset, "cifar10 | mnist | fashion_mnist | folder")->capture_default_str();
      cmd.add_option("--data_dir", o->data_dir, "folder of the data (default: the usual places, see data/dataset.h)");
      cmd.add_option("--out", o->out, "the image folder to create (must not exist)")->required();
      cmd.add_option("--image_size", o->image_size,
                     "resize every image to this height and width, bilinear (0: keep the data set's size)")
          ->capture_default_str();
      cmd.add_option("--subset", o->subset, "only the first N training images (0: all)")->capture_default_str();
      cmd.add_option("--test_subset", o->test_subset, "only the first N test images (0: all)")->capture_default_str();
      return [o] { return run_export(*o); };
    });

}  // namespace
}  // namespace ember::tools
