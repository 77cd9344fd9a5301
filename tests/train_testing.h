// The tiny training run shared by the `ember train` tests: the CNN on the CIFAR-10 sample
// (data/samples/cifar-10), 160 images: 128 to train (4 batches of 32), 32 (20 %) to validate; ~1 s per epoch
// on 2 cores. Each test sets what it exercises on top of it.
#pragma once
#include <string>

#include "tools/trainer.h"

namespace ember::testing {

inline tools::TrainConfig tiny_config(const std::string& name) {
  tools::TrainConfig c;
  c.model = "CNN";
  c.data_dir = std::string(EMBER_SOURCE_DIR) + "/data/samples/cifar-10";
  c.out_dir = std::string(EMBER_BINARY_DIR) + "/test_results";
  c.experiment_name = name;
  c.subset = 160;
  c.val_size = 20;
  c.batch_size = 32;
  c.val_batch_size = 32;
  c.num_workers = 2;
  c.epochs = 2;
  c.seed = 7;
  return c;
}

}  // namespace ember::testing
