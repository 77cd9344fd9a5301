// The training images of a run, built the same way by `ember train` and `ember gan` (so a GAN trained for a
// minority class sees exactly the images of that class the classifier trains on):
//   the data set's first `subset` images -> train/validation split (val_size percent, seed) -> the training part
//   made class-imbalanced (`imbalance`, data/split.h imbalanced_subset; validation stays as split) -> the images
//   of an image folder appended to the training part with their class labels (`extra_images`: `ember gan
//   --generate`'s output).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/split.h"

namespace ember::tools {

struct TrainingDataOptions {
  std::string dataset = "cifar10", data_dir;
  int64_t subset = 0;  // > 0: the first N images of the training set
  double val_size = 10;
  uint64_t seed = 0;
  std::string imbalance;     // "" | "cat:0.1" | "cat:0.1,dog:0.5" | "1,1,1,0.1,1,1,1,1,1,1" (see parse_imbalance)
  std::string extra_images;  // "" | a folder with train/<class name>/*.png
};

struct TrainingData {
  data::ImageDataset set;        // the first `subset` images, then the extra images
  data::Split split;             // train: imbalanced, then the extra images' indices; val: as split
  int64_t extra_images = 0;      // how many were appended (the last indices of set)
  std::vector<int64_t> dropped;  // per class: training images the imbalance removed
};

TrainingData load_training_data(const TrainingDataOptions& options);

// The per-class keep ratios of an imbalance spec, each in [0, 1]: a comma-separated list of
// "<class name or index>:<ratio>" (unnamed classes keep 1), or of one ratio per class in class order.
// Errors name `what` (the setting) and the valid class names.
std::vector<double> parse_imbalance(const std::string& spec, const std::vector<std::string>& class_names,
                                    const std::string& what = "setting 'imbalance'");
// (Its syntax alone, before any data is read: tools/config.h check_imbalance_syntax.)

// A class given by name or index; errors name `what` and list the classes.
int64_t class_index(const std::string& name_or_index, const std::vector<std::string>& class_names,
                    const std::string& what);

}  // namespace ember::tools
