// `ember nextframe`: ConvLSTM next-frame prediction on Moving MNIST (the study's 2.2.1; tools/nextframe.h).
//   ember nextframe                     (docs/task2.md's 32 x 32 CPU experiment: its settings are the defaults)
//   ember nextframe --device cuda --frame_size 64 --frames 20 --hidden 64 --layers 3 ...   (the article's size)
#include <iostream>
#include <memory>

#include "tools/command.h"
#include "tools/nextframe.h"

namespace ember::tools {
namespace {

CommandRegistration reg(
    "nextframe", "Trains a ConvLSTM to predict the next frame of Moving MNIST sequences",
    [](CLI::App& cmd) -> CommandRun {
      auto o = std::make_shared<NextFrameOptions>();
      cmd.add_option("--data_dir", o->data_dir, "folder of the MNIST IDX files (default: ../shared/data/mnist)");
      cmd.add_option("--frames", o->frames, "frames per sequence")->capture_default_str();
      cmd.add_option("--frame_size", o->frame_size,
                     "frame height and width (64: the classic setup; smaller frames "
                     "scale the digits and speeds)")
          ->capture_default_str();
      cmd.add_option("--sequences", o->sequences, "training sequences (generated from the MNIST training digits)")
          ->capture_default_str();
      cmd.add_option("--val_sequences", o->val_sequences, "held-out sequences (from the MNIST test digits)")
          ->capture_default_str();
      cmd.add_option("--epochs", o->epochs, "passes over the training sequences")->capture_default_str();
      cmd.add_option("--batch_size", o->batch_size, "sequences per step")->capture_default_str();
      cmd.add_option("--lr", o->lr, "Adam's learning rate")->capture_default_str();
      cmd.add_option("--hidden", o->hidden, "channels of each ConvLSTM layer")->capture_default_str();
      cmd.add_option("--layers", o->layers, "ConvLSTM + BatchNorm3d layers")->capture_default_str();
      cmd.add_option("--kernel", o->kernel, "odd kernel size of the gates and the output conv")->capture_default_str();
      cmd.add_option("--activation", o->activation, "tanh | relu, of the cell input and state")->capture_default_str();
      cmd.add_option("--loss", o->loss, "bce | mse, per pixel")->capture_default_str();
      cmd.add_option("--context", o->context, "frames given before the model generates the rest (0: frames / 2)")
          ->capture_default_str();
      cmd.add_option("--strip_sequences", o->strip_sequences, "held-out sequences drawn in strip.png")
          ->capture_default_str();
      cmd.add_option("--seed", o->seed, "seed of the sequences, the weights and the shuffling")->capture_default_str();
      cmd.add_option("--device", o->device, "cpu | cuda | cuda:N")->capture_default_str();
      cmd.add_option("--out_dir", o->out_dir, "parent folder of the results folder")->capture_default_str();
      cmd.add_option("--experiment_name", o->experiment_name, "results folder name (date and time appended)")
          ->capture_default_str();
      return [o] {
        run_nextframe(*o, std::cout);
        return 0;
      };
    });

}  // namespace
}  // namespace ember::tools
