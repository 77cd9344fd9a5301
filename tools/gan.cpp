#include "tools/gan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <ostream>

#include "data/loader.h"
#include "data/sampler.h"
#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/io/safetensors.h"
#include "engine/nn/module.h"
#include "engine/ops.h"
#include "engine/optim/optimizer.h"
#include "models/dcgan.h"
#include "tools/config.h"
#include "tools/picture.h"
#include "tools/results_folder.h"
#include "tools/text.h"
#include "tools/training_data.h"

namespace ember::tools {

namespace fs = std::filesystem;

namespace {

// The noise streams, apart from the weights' (init) and the data order's (shuffle): training noise, the fixed
// noise of samples.png, and --generate's.
enum NoiseStream : uint64_t { kTrainingNoise = 1, kFixedNoise = 2, kGenerateNoise = 3 };
Generator noise_generator(int64_t seed, NoiseStream s) {
  return Generator(static_cast<uint64_t>(seed), (static_cast<uint64_t>(RandomPurpose::init) << 32) + s);
}

void check_options(const GanOptions& o) {
  EMBER_CHECK(!o.class_name.empty(), "--class is required: the name or index of the class to learn");
  EMBER_CHECK(o.epochs >= 0, "--epochs ", o.epochs, " is negative");
  EMBER_CHECK(o.epochs > 0 || !o.generator.empty(), "--epochs 0 needs --generator FILE (only generating)");
  EMBER_CHECK(o.batch_size >= 2, "--batch_size ", o.batch_size, " must be at least 2 (BatchNorm needs a batch)");
  EMBER_CHECK(o.lr > 0, "--lr ", o.lr, " must be positive");
  EMBER_CHECK(o.beta1 >= 0 && o.beta1 < 1, "--beta1 ", o.beta1, " is not in [0, 1)");
  EMBER_CHECK(o.z_dim >= 1 && o.features >= 1, "--z_dim (", o.z_dim, ") and --features (", o.features,
              ") must be positive");
  EMBER_CHECK(o.seed >= 0, "--seed ", o.seed, " is negative");
  EMBER_CHECK(o.generate >= 0, "--generate ", o.generate, " is negative");
  EMBER_CHECK(o.num_workers >= 0 && o.num_workers <= data::kMaxLoaderWorkers, "--num_workers ", o.num_workers,
              " is not in [0, ", data::kMaxLoaderWorkers, "]");
  EMBER_CHECK(o.val_size > 0 && o.val_size < 100, "--val_size ", o.val_size, " is not in (0, 100) percent");
  EMBER_CHECK(o.subset >= 0, "--subset ", o.subset, " is negative");
  EMBER_CHECK(!o.experiment_name.empty() && o.experiment_name.find('/') == std::string::npos, "--experiment_name '",
              o.experiment_name, "' must be a non-empty name without '/'");
  check_imbalance_syntax(o.imbalance, "--imbalance");
}

// Generator output in [-1, 1] -> uint8 CHW images.
std::vector<uint8_t> to_pixels(const Tensor& images) {
  const std::vector<float> v = images.to(Device::cpu()).to(DType::f32).contiguous().to_vector<float>();
  std::vector<uint8_t> pixels(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    pixels[i] = static_cast<uint8_t>(std::lround(std::fmin(255.0, std::fmax(0.0, (v[i] + 1.0) * 127.5))));
  return pixels;
}

// n images from the generator in batches of 64, with batch statistics (training-mode BatchNorm, as the DCGAN
// tutorial samples); the running statistics it moves are not saved afterwards.
std::vector<uint8_t> sample(nn::Module& g, int64_t n, int64_t z_dim, Generator& noise, Device device) {
  NoGradGuard no_grad;
  std::vector<uint8_t> pixels;
  for (int64_t first = 0; first < n; first += 64) {
    const int64_t b = std::min<int64_t>(64, n - first);
    // A batch of one has no batch statistics to speak of: draw at least 2 and keep what was asked.
    const Tensor images = g(rand_normal({std::max<int64_t>(b, 2), z_dim}, 0.0, 1.0, noise, DType::f32, device));
    const std::vector<uint8_t> p = to_pixels(images.narrow(0, 0, b));
    pixels.insert(pixels.end(), p.begin(), p.end());
  }
  return pixels;
}

}  // namespace

GanResult run_gan(const GanOptions& o, std::ostream& out) {
  check_options(o);
  const Device device = parse_device(o.device);
  TrainingDataOptions t_options;
  t_options.dataset = o.dataset;
  t_options.data_dir = o.data_dir.empty() ? data::default_data_dir(o.dataset) : o.data_dir;
  t_options.subset = o.subset, t_options.val_size = o.val_size, t_options.seed = static_cast<uint64_t>(o.seed);
  t_options.imbalance = o.imbalance;
  const TrainingData t = load_training_data(t_options);
  GanResult r;
  r.class_index = class_index(o.class_name, t.set.class_names, "--class");
  const std::string& class_name = t.set.class_names[static_cast<size_t>(r.class_index)];
  std::vector<int64_t> real;
  for (int64_t i : t.split.train)
    if (t.set.labels[static_cast<size_t>(i)] == r.class_index) real.push_back(i);
  r.real_images = static_cast<int64_t>(real.size());
  EMBER_CHECK(o.epochs == 0 || r.real_images >= 2, "--class ", class_name, ": ", r.real_images,
              " training images of that class in ", t_options.data_dir, " (after --subset ", o.subset, ", --val_size ",
              o.val_size, ", --imbalance '", o.imbalance, "'); the GAN needs at least 2");
  EMBER_CHECK(t.set.height == t.set.width, "ember gan: images are ", t.set.height, "x", t.set.width,
              "; the DCGAN needs square images");

  models::DcganSizes sizes{o.z_dim, t.set.channels, t.set.height, o.features, o.features};
  const auto seed = static_cast<uint64_t>(o.seed);
  auto g = models::make_dcgan_generator(sizes, 2 * seed);
  auto d = models::make_dcgan_discriminator(sizes, 2 * seed + 1);
  if (!o.generator.empty()) g->load_state_dict(io::load_safetensors(o.generator).tensors);
  g->to(device);
  d->to(device);
  optim::Adam opt_g(g->parameters(), o.lr, o.beta1, 0.999, 1e-8);
  optim::Adam opt_d(d->parameters(), o.lr, o.beta1, 0.999, 1e-8);

  const fs::path dir = new_results_dir(o.out_dir, o.experiment_name);
  r.results_dir = dir.string();
  RunLog log(out, dir / "gan.log");
  log.line("results: " + r.results_dir);
  log.line("class " + class_name + " (" + std::to_string(r.class_index) + "): " + std::to_string(r.real_images) +
           " training images from " + t_options.data_dir +
           (o.imbalance.empty() ? ""
                                : ", imbalance " + o.imbalance + " (removed " +
                                      std::to_string(t.dropped[static_cast<size_t>(r.class_index)]) + ")") +
           "; generator " + std::to_string(g->parameter_count()) + " and discriminator " +
           std::to_string(d->parameter_count()) + " parameters on " + o.device);

  data::LoaderOptions l;
  l.batch_size = o.batch_size;
  l.drop_last = r.real_images > o.batch_size;  // no small last batch for BatchNorm, unless it is the only one
  l.num_workers = static_cast<int>(o.num_workers);
  l.seed = seed;
  l.norm.mean.assign(static_cast<size_t>(t.set.channels), 0.5f);  // pixels to [-1, 1], the range of tanh
  l.norm.std.assign(static_cast<size_t>(t.set.channels), 0.5f);
  l.pin_memory = device.is_cuda();
  data::Loader loader(t.set, std::make_shared<data::RandomSampler>(real, seed), l);

  Generator noise = noise_generator(o.seed, kTrainingNoise);
  const std::string loss_header = "epoch,d_loss,g_loss,d_real,d_fake,seconds\n";
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    g->train();
    d->train();
    GanEpoch e;
    e.epoch = epoch;
    int64_t batches = 0;
    loader.start_epoch(epoch);
    for (data::Batch batch; loader.next(batch); ++batches) {
      const Tensor x = batch.images.to(device);
      const int64_t n = x.size(0);
      const Tensor ones = Tensor::ones({n}, DType::f32, device), zeros = Tensor::zeros({n}, DType::f32, device);
      const Tensor fake = (*g)(rand_normal({n, o.z_dim}, 0.0, 1.0, noise, DType::f32, device));
      // Discriminator: real -> 1, fake -> 0 (the fakes detached: this step leaves G alone).
      opt_d.zero_grad();
      const Tensor real_logits = (*d)(x), fake_logits = (*d)(fake.detach());
      const Tensor d_loss = add(binary_cross_entropy_with_logits(real_logits, ones),
                                binary_cross_entropy_with_logits(fake_logits, zeros));
      d_loss.backward();
      opt_d.step();
      // Generator, non-saturating: fake -> 1 through the updated D (gradients reaching D are cleared next step).
      opt_g.zero_grad();
      const Tensor g_loss = binary_cross_entropy_with_logits((*d)(fake), ones);
      g_loss.backward();
      opt_g.step();
      NoGradGuard no_grad;
      e.d_loss += d_loss.item();
      e.g_loss += g_loss.item();
      e.d_real += mean(sigmoid(real_logits)).item();
      e.d_fake += mean(sigmoid(fake_logits)).item();
    }
    const double per = 1.0 / static_cast<double>(std::max<int64_t>(batches, 1));
    e.d_loss *= per, e.g_loss *= per, e.d_real *= per, e.d_fake *= per;
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EMBER_CHECK(std::isfinite(e.d_loss) && std::isfinite(e.g_loss), "ember gan: epoch ", epoch + 1,
                ": non-finite loss (D ", e.d_loss, ", G ", e.g_loss, "); try a lower --lr");
    r.history.push_back(e);
    char row[200];
    std::snprintf(row, sizeof row, "%lld,%.6f,%.6f,%.6f,%.6f,%.3f\n", static_cast<long long>(epoch + 1), e.d_loss,
                  e.g_loss, e.d_real, e.d_fake, e.seconds);
    append_text_file(dir / "losses.csv", (epoch == 0 ? loss_header : "") + row);
    const std::map<std::string, std::string> meta = {{"class", class_name},
                                                     {"epoch", std::to_string(epoch + 1)},
                                                     {"z_dim", std::to_string(o.z_dim)},
                                                     {"features", std::to_string(o.features)}};
    io::save_safetensors((dir / "generator.safetensors").string(), g->state_dict(), meta);
    io::save_safetensors((dir / "discriminator.safetensors").string(), d->state_dict(), meta);
    std::snprintf(row, sizeof row, "epoch %lld/%lld: D loss %.4f  G loss %.4f  D(x) %.3f  D(G(z)) %.3f  %.1f s",
                  static_cast<long long>(epoch + 1), static_cast<long long>(o.epochs), e.d_loss, e.g_loss, e.d_real,
                  e.d_fake, e.seconds);
    log.line(row);
  }

  const int64_t C = t.set.channels, S = t.set.height;
  g->train();
  Generator fixed = noise_generator(o.seed, kFixedNoise);
  const std::vector<uint8_t> grid_pixels = sample(*g, 64, o.z_dim, fixed, device);
  std::vector<const uint8_t*> images;
  for (int64_t i = 0; i < 64; ++i) images.push_back(grid_pixels.data() + i * C * S * S);
  image_grid(images, C, S, S, std::vector<std::string>(64), 8, 2,
             "DCGAN samples: " + class_name + ", " + std::to_string(o.epochs) + " epochs on " +
                 std::to_string(r.real_images) + " images")
      .save_png((dir / "samples.png").string());
  log.line("samples: " + (dir / "samples.png").string());

  if (o.generate > 0) {
    const fs::path gen_dir = dir / "generated", class_dir = gen_dir / "train" / class_name;
    fs::create_directories(class_dir);
    fs::create_directories(gen_dir / "test");  // the image-folder layout; no test images
    Generator gen_noise = noise_generator(o.seed, kGenerateNoise);
    const std::vector<uint8_t> pixels = sample(*g, o.generate, o.z_dim, gen_noise, device);
    for (int64_t i = 0; i < o.generate; ++i) {
      Picture p(S, S);
      p.draw_image(0, 0, pixels.data() + i * C * S * S, C, S, S);
      char name[32];
      std::snprintf(name, sizeof name, "gan_%05lld.png", static_cast<long long>(i));
      p.save_png((class_dir / name).string());
    }
    r.generated_dir = gen_dir.string();
    log.line("generated: " + std::to_string(o.generate) + " images in " + class_dir.string() +
             " (ember train --extra_images " + gen_dir.string() + ")");
  }
  return r;
}

}  // namespace ember::tools
