// `ember embed`: the embedding of every image of a data set's train and test splits by a trained autoencoder, and
// with --classify an MLP trained on the train embeddings and scored on the test embeddings (tools/autoencoder.h).
//   ember embed --checkpoint results/autoencoder_.../autoencoder.safetensors --subset 5000 --classify
#include <iostream>
#include <memory>

#include "tools/autoencoder.h"
#include "tools/command.h"

namespace ember::tools {
namespace {

CommandRegistration reg(
    "embed", "Autoencoder embeddings of a data set (safetensors), and an MLP classifier on them (--classify)",
    [](CLI::App& cmd) -> CommandRun {
      auto o = std::make_shared<EmbedOptions>();
      cmd.add_option("--checkpoint", o->checkpoint, "autoencoder.safetensors written by `ember autoencoder`")
          ->required();
      cmd.add_option("--dataset", o->dataset, "cifar10 | mnist | fashion_mnist | folder (default: the checkpoint's)");
      cmd.add_option("--data_dir", o->data_dir, "data folder (default: the usual places, see data/dataset.h)");
      cmd.add_option("--out_dir", o->out_dir, "where the embeddings and reports go (default: the checkpoint's folder)");
      cmd.add_option("--device", o->device, "cpu | cuda | cuda:N")->capture_default_str();
      cmd.add_option("--subset", o->subset, "embed the first N training images (0: all)")->capture_default_str();
      cmd.add_option("--test_subset", o->test_subset, "embed the first N test images (0: all)")->capture_default_str();
      cmd.add_option("--batch_size", o->batch_size, "images per forward pass")->capture_default_str();
      cmd.add_flag("--classify", o->classify,
                   "then train an MLP (Linear-ReLU-Linear) on the train embeddings and report test accuracy, "
                   "classification report and confusion matrix");
      cmd.add_option("--hidden", o->hidden, "MLP hidden units")->capture_default_str();
      cmd.add_option("--mlp_epochs", o->mlp_epochs, "MLP epochs")->capture_default_str();
      cmd.add_option("--mlp_batch_size", o->mlp_batch_size, "MLP batch size")->capture_default_str();
      cmd.add_option("--mlp_lr", o->mlp_lr, "MLP Adam learning rate")->capture_default_str();
      cmd.add_option("--seed", o->seed, "seed of the MLP's weights and order")->capture_default_str();
      return [o] {
        embed(*o, std::cout);
        return 0;
      };
    });

}  // namespace
}  // namespace ember::tools
