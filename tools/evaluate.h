// Evaluation of a saved model on a test set: loss, accuracy, weighted P/R/F1, confusion matrix,
// classification report, and picture grids of the first wrong and first correct predictions.
// Files go to out_dir (default: <checkpoint folder>/test_<checkpoint name>/):
//   report.txt  report.csv  confusion.csv  wrong.png  correct.png
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>

#include "engine/metrics.h"

namespace ember::tools {

struct EvaluateOptions {
  std::string model;       // registry name; must match the checkpoint
  std::string checkpoint;  // a weights file (best.safetensors / last.safetensors)
  std::string dataset = "cifar10";
  std::string data_dir;       // empty: data::default_data_dir(dataset)
  std::string normalization;  // empty: the mean/std stored in the checkpoint; else recomputed as in training
  double val_size = 10;       // with --normalization N1*: the split whose training part gives the statistics
  int64_t seed = 0;
  std::string device = "cpu";
  int64_t batch_size = 256;
  int64_t num_workers = 2;
  int64_t subset = 0;  // > 0: only the first N test images
  std::string out_dir;
  int64_t grid_images = 10;  // how many wrong / correct predictions to draw
};

struct EvaluateResult {
  double loss = 0;
  metrics::ConfusionMatrix confusion;
  metrics::ClassificationScores scores;
  std::string out_dir;
};

EvaluateResult evaluate(const EvaluateOptions& options, std::ostream& out);

}  // namespace ember::tools
