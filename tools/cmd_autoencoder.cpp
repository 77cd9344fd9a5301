// `ember autoencoder`: trains the convolutional autoencoder (models/autoencoder.h) without labels; the workflow and
// what it writes are in tools/autoencoder.h.
//   ember autoencoder --dataset mnist --subset 5000 --epochs 5
//   ember autoencoder --dataset cifar10 --device cuda --subset 0 --epochs 30      (full size, on a GPU)
#include <iostream>
#include <memory>

#include "tools/autoencoder.h"
#include "tools/command.h"

namespace ember::tools {
namespace {

CommandRegistration reg(
    "autoencoder", "Trains a convolutional autoencoder (reconstruction MSE, no labels) for image embeddings",
    [](CLI::App& cmd) -> CommandRun {
      auto o = std::make_shared<AutoencoderOptions>();
      cmd.add_option("--dataset", o->dataset, "cifar10 | mnist | fashion_mnist | folder")->capture_default_str();
      cmd.add_option("--data_dir", o->data_dir, "data folder (default: the usual places, see data/dataset.h)");
      cmd.add_option("--subset", o->subset, "train on the first N training images (0: all)")->capture_default_str();
      cmd.add_option("--val_size", o->val_size, "percent of them held out for the validation loss")
          ->capture_default_str();
      cmd.add_option("--epochs", o->epochs, "epochs")->capture_default_str();
      cmd.add_option("--batch_size", o->batch_size, "batch size")->capture_default_str();
      cmd.add_option("--lr", o->lr, "Adam's learning rate")->capture_default_str();
      cmd.add_option("--embedding_dim", o->embedding_dim, "size of the embedding vector")->capture_default_str();
      cmd.add_option("--num_workers", o->num_workers, "loader threads")->capture_default_str();
      cmd.add_option("--seed", o->seed, "seed of the weights, the split and the data order")->capture_default_str();
      cmd.add_option("--device", o->device, "cpu | cuda | cuda:N")->capture_default_str();
      cmd.add_option("--out_dir", o->out_dir, "parent of the results folder")->capture_default_str();
      cmd.add_option("--experiment_name", o->experiment_name, "results folder name (a time stamp is appended)")
          ->capture_default_str();
      return [o] {
        train_autoencoder(*o, std::cout);
        return 0;
      };
    });

}  // namespace
}  // namespace ember::tools
