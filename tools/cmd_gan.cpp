// `ember gan`: a DCGAN trained on one class (tools/gan.h), its samples written as an image folder for
// `ember train --extra_images`.
//   ember gan --class cat --subset 5000 --imbalance cat:0.1 --epochs 30 --generate 400
#include <iostream>
#include <memory>

#include "tools/command.h"
#include "tools/gan.h"

namespace ember::tools {
namespace {

CommandRegistration reg(
    "gan", "Train a DCGAN on one class; samples as PNGs for ember train --extra_images",
    [](CLI::App& cmd) -> CommandRun {
      auto o = std::make_shared<GanOptions>();
      cmd.add_option("--class", o->class_name, "the class to learn: its name (cat) or index (3)")->required();
      cmd.add_option("--dataset", o->dataset, "cifar10 | mnist | fashion_mnist | folder (square 2^k images)")
          ->capture_default_str();
      cmd.add_option("--data_dir", o->data_dir, "data folder (default: as ember train)");
      cmd.add_option("--subset", o->subset, "as ember train: only the first N training images (0: all)")
          ->capture_default_str();
      cmd.add_option("--val_size", o->val_size, "as ember train: percent held out (never shown to the GAN)")
          ->capture_default_str();
      cmd.add_option("--imbalance", o->imbalance,
                     "as ember train: e.g. cat:0.1 (train the GAN on the images the imbalanced run keeps)");
      cmd.add_option("--epochs", o->epochs, "passes over the class's images (0 with --generator: only generate)")
          ->capture_default_str();
      cmd.add_option("--batch_size", o->batch_size, "real images per step, >= 2")->capture_default_str();
      cmd.add_option("--lr", o->lr, "Adam learning rate of both networks")->capture_default_str();
      cmd.add_option("--beta1", o->beta1, "Adam beta1 of both networks (beta2 0.999)")->capture_default_str();
      cmd.add_option("--z_dim", o->z_dim, "noise dimension")->capture_default_str();
      cmd.add_option("--features", o->features, "generator and discriminator width (ngf = ndf)")->capture_default_str();
      cmd.add_option("--seed", o->seed, "seed of the weights, noise, data order and (as ember train) split")
          ->capture_default_str();
      cmd.add_option("--device", o->device, "cpu | cuda | cuda:N")->capture_default_str();
      cmd.add_option("--num_workers", o->num_workers, "loader threads")->capture_default_str();
      cmd.add_option("--out_dir", o->out_dir, "parent folder of results folders")->capture_default_str();
      cmd.add_option("--experiment_name", o->experiment_name,
                     "results go to <out_dir>/<experiment_name>_<date>_<time>/")
          ->capture_default_str();
      cmd.add_option("--generate", o->generate,
                     "after training, write N samples to <results>/generated/train/<class>/ (an image folder)")
          ->capture_default_str();
      cmd.add_option("--generator", o->generator, "start from this generator.safetensors");
      return [o] {
        run_gan(*o, std::cout);
        return 0;
      };
    });

}  // namespace
}  // namespace ember::tools
