// `ember gan`: a DCGAN (models/dcgan.h) trained on the images of ONE class, to add generated images of a minority
// class to an imbalanced training set (the study's 2.3.1). The class's images are those `ember train` trains on
// with the same --subset, --val_size, --imbalance and --seed (tools/training_data.h), so the GAN never sees a
// training image the classifier does not.
//
// Training is the DCGAN tutorial's, with the non-saturating generator loss: per batch of real images x (pixels
// scaled to [-1, 1]) and noise z ~ N(0, 1),
//   discriminator: BCE(D(x), 1) + BCE(D(G(z)), 0)           (one Adam step on D)
//   generator:     BCE(D(G(z)), 1)  (= -log D(G(z)))          (one Adam step on G)
// Results folder <out_dir>/<experiment_name>_<date>_<time>/:
//   generator.safetensors, discriminator.safetensors  after every epoch (written to .tmp, then renamed)
//   losses.csv   epoch, d_loss, g_loss, d_real, d_fake (mean D(x) and D(G(z)) as probabilities), seconds
//   samples.png  an 8 x 8 grid of samples from fixed noise (after the last epoch)
//   generated/train/<class name>/gan_NNNNN.png (and an empty generated/test/)  with --generate N: an image folder
//       that data/image_folder.cpp reads, what `ember train --extra_images <results>/generated` appends.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace ember::tools {

struct GanOptions {
  std::string class_name;  // name or index of the class to learn
  std::string dataset = "cifar10", data_dir;
  int64_t subset = 0;     // as ember train: the first N training images (0: all)
  double val_size = 10;   // as ember train: the validation part, never seen by the GAN
  std::string imbalance;  // as ember train
  int64_t epochs = 25;
  int64_t batch_size = 64;
  double lr = 2e-4;
  double beta1 = 0.5;
  int64_t z_dim = 100;
  int64_t features = 64;  // generator and discriminator widths (the tutorial's ngf = ndf)
  int64_t seed = 0;
  std::string device = "cpu";
  int64_t num_workers = 2;
  std::string out_dir = "results", experiment_name = "gan";
  int64_t generate = 0;   // images written to generated/ after training
  std::string generator;  // a generator.safetensors to start from (with --epochs 0: only generate)
};

struct GanEpoch {
  int64_t epoch = 0;
  double d_loss = 0, g_loss = 0, d_real = 0, d_fake = 0, seconds = 0;
};

struct GanResult {
  std::string results_dir;
  int64_t class_index = 0, real_images = 0;
  std::vector<GanEpoch> history;
  std::string generated_dir;  // "" without --generate
};

// Checks the options (errors name the flag), trains, writes the results folder. Progress lines go to `out`.
GanResult run_gan(const GanOptions& options, std::ostream& out);

}  // namespace ember::tools
