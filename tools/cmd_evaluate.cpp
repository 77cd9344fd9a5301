// `ember evaluate`: a saved model on the test set (the study's inference notebook).
//   ember evaluate --model ResNet_34 --checkpoint results/optimal_model_.../best.safetensors
#include <iostream>
#include <memory>

#include "tools/command.h"
#include "tools/evaluate.h"

namespace ember::tools {
namespace {

CommandRegistration reg(
    "evaluate", "Test-set loss, accuracy, P/R/F1, confusion matrix, report and picture grids",
    [](CLI::App& cmd) -> CommandRun {
      auto o = std::make_shared<EvaluateOptions>();
      cmd.add_option("--model", o->model, "model name (as trained)")->required();
      cmd.add_option("--checkpoint", o->checkpoint, "weights: best.safetensors or last.safetensors")->required();
      cmd.add_option("--dataset", o->dataset, "cifar10 | mnist | fashion_mnist | folder")->capture_default_str();
      cmd.add_option("--data_dir", o->data_dir, "data folder (default: as for train)");
      cmd.add_option("--normalization", o->normalization,
                     "No | N1 | N2 | ... (default: the statistics saved in the checkpoint)");
      cmd.add_option("--val_size", o->val_size, "with N1: the training split's val_size")->capture_default_str();
      cmd.add_option("--seed", o->seed, "with N1: the training split's seed")->capture_default_str();
      cmd.add_option("--device", o->device, "cpu | cuda")->capture_default_str();
      cmd.add_option("--batch_size", o->batch_size, "test batch size")->capture_default_str();
      cmd.add_option("--num_workers", o->num_workers, "loader threads")->capture_default_str();
      cmd.add_option("--subset", o->subset, "only the first N test images (0: all)")->capture_default_str();
      cmd.add_option("--out_dir", o->out_dir, "output folder (default: <checkpoint folder>/test_<checkpoint name>)");
      return [o] {
        evaluate(*o, std::cout);
        return 0;
      };
    });

}  // namespace
}  // namespace ember::tools
