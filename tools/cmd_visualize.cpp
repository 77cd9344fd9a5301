// ember visualize: pictures of a dataset, as in the study's data_visualization notebook --
//   examples_train.png, examples_test.png   N examples per class, one row per class, labelled
//   batch_train.png, batch_val.png, batch_test.png   one loader batch each (study: 128 train with a 10%
//                                           validation split, 256 validation/test), captions = class names
//   augment_<k>_<name>.png                  per augmentation: the same images before and after
#include <cstdio>
#include <filesystem>
#include <memory>

#include "data/augment.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/normalize.h"
#include "data/split.h"
#include "tools/command.h"
#include "tools/picture.h"

namespace ember::tools {
namespace {

struct VisualizeOptions {
  std::string dataset = "cifar10", data_dir, out_dir, normalization = "N1_aug";
  int64_t per_class = 8, batch_size = 128, eval_batch_size = 256, panel_images = 8;
  double val_size = 10;
  uint64_t seed = 0;
  // Strong settings (p = 1) so each panel shows the transform on every image.
  std::vector<std::string> augmentations = {
      "RandomAffine(degrees=30, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=10)",
      "RandomVerticalFlip(p=1)",
      "RandomHorizontalFlip(p=1)",
      "RandomRotation(degrees=30)",
      "RandomCrop(32, padding=4)",
      "RandomErasing(p=1)",
      "RandomGrayscale(p=1)",
      "RandomHorizontalFlip(0.5); RandomCrop(32, padding=4)"};
};

void save(const Picture& pic, const std::string& path) {
  pic.save_png(path);
  std::printf("wrote %s (%lldx%lld)\n", path.c_str(), (long long)pic.width(), (long long)pic.height());
}

// One row per class: its name, then the first `per_class` images of that class.
Picture examples(const data::ImageDataset& d, int64_t per_class, const std::string& title) {
  const int64_t scale = 2, gap = 4, cell = d.width * scale + gap, row_h = d.height * scale + gap;
  int64_t name_w = 0;
  for (const std::string& n : d.class_names) name_w = std::max(name_w, Picture::text_width(n, 2));
  const int64_t title_h = 30, left = name_w + 16;
  Picture pic(left + per_class * cell + gap, title_h + int64_t(d.class_names.size()) * row_h + gap);
  pic.draw_text(gap, 6, title, colors::black, 2);
  std::vector<int64_t> shown(d.class_names.size(), 0);
  for (int64_t i = 0; i < d.size(); ++i) {
    const int32_t c = d.labels[i];
    if (shown[c] >= per_class) continue;
    pic.draw_image(left + shown[c]++ * cell, title_h + c * row_h, d.image(i), d.channels, d.height, d.width, scale);
  }
  for (size_t c = 0; c < d.class_names.size(); ++c)
    pic.draw_text(8, title_h + int64_t(c) * row_h + (d.height * scale - 14) / 2, d.class_names[c], colors::black, 2);
  return pic;
}

Picture batch_picture(const data::ImageDataset& d, data::Loader& loader, const data::Normalization& norm,
                      const std::string& title) {
  loader.start_epoch(0);
  data::Batch batch;
  loader.next(batch);
  const Shape s = loader.image_shape();
  const int64_t n = batch.images.size(0), bytes = s[0] * s[1] * s[2];
  std::vector<uint8_t> pixels(n * bytes);
  std::vector<const uint8_t*> images;
  std::vector<std::string> captions;
  const float* f = batch.images.data<float>();
  for (int64_t k = 0; k < n; ++k) {
    data::denormalize_image(f + k * bytes, s[0], s[1] * s[2], norm, pixels.data() + k * bytes);
    images.push_back(pixels.data() + k * bytes);
    captions.push_back(d.class_names[batch.labels.to_vector<int64_t>()[k]]);
  }
  return image_grid(images, s[0], s[1], s[2], captions, 16, 2, title + " (" + std::to_string(n) + " images)");
}

// Row "before" and row "after" for the first `count` training images.
Picture augment_panel(const data::ImageDataset& d, const data::AugmentPipeline& pipe, int64_t count, uint64_t seed) {
  std::vector<std::vector<uint8_t>> after(count);
  std::vector<const uint8_t*> images;
  int64_t oh = d.height, ow = d.width;
  pipe.output_size(oh, ow);
  EMBER_CHECK(oh == d.height && ow == d.width, "visualize: augmentation '", pipe.describe(),
              "' changes the image size; panels need the same size before and after");
  for (int64_t i = 0; i < count; ++i) images.push_back(d.image(i));
  for (int64_t i = 0; i < count; ++i) {
    data::FloatImage img, scratch;
    img.resize(d.channels, d.height, d.width);
    for (int64_t p = 0; p < d.image_bytes(); ++p) img.pixels[p] = d.image(i)[p] / 255.0f;
    data::AugmentRandom rng(seed, 0, i);
    pipe.apply(img, scratch, rng);
    after[i].resize(d.image_bytes());
    data::denormalize_image(img.pixels.data(), d.channels, oh * ow, {}, after[i].data());
    images.push_back(after[i].data());
  }
  std::vector<std::string> captions(2 * count);
  captions[0] = "before";
  captions[count] = "after";
  return image_grid(images, d.channels, d.height, d.width, captions, count, 3, pipe.describe());
}

std::string file_name(const std::string& describe) {
  std::string out;
  for (char ch : describe.substr(0, describe.find('('))) out += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return out;
}

int run_visualize(const VisualizeOptions& o) {
  const std::string dir = o.data_dir.empty() ? data::default_data_dir(o.dataset) : o.data_dir;
  std::filesystem::create_directories(o.out_dir);
  const data::ImageDataset train = data::load_dataset(o.dataset, dir, true);
  const data::ImageDataset test = data::load_dataset(o.dataset, dir, false);
  save(examples(train, o.per_class, o.dataset + " train: " + std::to_string(o.per_class) + " per class"),
       o.out_dir + "/examples_train.png");
  save(examples(test, o.per_class, o.dataset + " test: " + std::to_string(o.per_class) + " per class"),
       o.out_dir + "/examples_test.png");

  const data::Split split = data::split_train_val(train, o.val_size, o.seed);
  const data::Preprocessing prep = data::parse_normalization(o.normalization, train, split.train);
  data::LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.seed = o.seed;
  lo.norm = prep.norm;
  if (prep.augment) lo.augment = data::study_augmentation();
  data::Loader train_loader(train, std::make_shared<data::RandomSampler>(split.train, o.seed), lo);
  save(batch_picture(train, train_loader, prep.norm, "training batch, --normalization " + o.normalization),
       o.out_dir + "/batch_train.png");
  lo.batch_size = o.eval_batch_size;
  lo.augment = {};
  data::Loader val_loader(train, std::make_shared<data::SequentialSampler>(split.val), lo);
  save(batch_picture(train, val_loader, prep.norm, "validation batch (" + std::to_string(int(o.val_size)) + "% split)"),
       o.out_dir + "/batch_val.png");
  std::vector<int64_t> all(test.size());
  for (int64_t i = 0; i < test.size(); ++i) all[i] = i;
  data::Loader test_loader(test, std::make_shared<data::SequentialSampler>(all), lo);
  save(batch_picture(test, test_loader, prep.norm, "test batch"), o.out_dir + "/batch_test.png");

  for (size_t k = 0; k < o.augmentations.size(); ++k) {
    const data::AugmentPipeline pipe = data::parse_augmentations(o.augmentations[k]);
    const std::string name = pipe.steps().size() == 1 ? file_name(pipe.describe()) : "pipeline";
    save(augment_panel(train, pipe, std::min(o.panel_images, train.size()), o.seed),
         o.out_dir + "/augment_" + std::to_string(k) + "_" + name + ".png");
  }
  return 0;
}

CommandRegistration reg(
    "visualize", "Pictures of a dataset: examples per class, batches, augmentations", [](CLI::App& cmd) -> CommandRun {
      auto o = std::make_shared<VisualizeOptions>();
      cmd.add_option("--dataset", o->dataset, "cifar10 | mnist | fashion_mnist | folder")->capture_default_str();
      cmd.add_option("--data_dir", o->data_dir, "folder of the data (default: the usual places)");
      cmd.add_option("--out_dir", o->out_dir, "where the PNG files go")->required();
      cmd.add_option("--per_class", o->per_class, "examples per class")->capture_default_str();
      cmd.add_option("--normalization", o->normalization, "No | N1 | N2 | N1_aug | N2_aug | aug (training batch)")
          ->capture_default_str();
      cmd.add_option("--val_size", o->val_size, "percent held out for validation")->capture_default_str();
      cmd.add_option("--batch_size", o->batch_size, "training batch size")->capture_default_str();
      cmd.add_option("--eval_batch_size", o->eval_batch_size, "validation/test batch size")->capture_default_str();
      cmd.add_option("--seed", o->seed, "seed of split, shuffle and augmentation")->capture_default_str();
      cmd.add_option("--augmentations", o->augmentations, "augmentation specs, one panel each (default: all kinds)");
      return [o] { return run_visualize(*o); };
    });

}  // namespace
}  // namespace ember::tools
