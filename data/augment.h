// Augmentations: random transforms of one CHW float image in [0,1], applied before normalisation (as
// torchvision applies its transforms to the PIL image before ToTensor/Normalize). Names, parameters and
// defaults follow torchvision:
//
//   RandomCrop(size, padding=0, fill=0)               pad every side, then crop size x size at a random place
//   RandomHorizontalFlip(p=0.5)  RandomVerticalFlip(p=0.5)
//   RandomRotation(degrees, interpolation=nearest, fill=0)       angle ~ U(-degrees, degrees), counter-clockwise
//   RandomAffine(degrees, translate=(0,0), scale=(1,1), shear=0, interpolation=nearest, fill=0)
//                                                     angle clockwise; translate = max fraction of width, height
//   RandomErasing(p=0.5, scale=(0.02,0.33), ratio=(0.3,3.3), value=0)   up to 10 tries for a rectangle that fits
//   RandomGrayscale(p=0.1)                            ITU-R 601 luma 0.299 R + 0.587 G + 0.114 B in every channel
//
// A number parameter given as a pair is a range: degrees=(80,100), scale=(0.9,1.1).
// Randomness: every image has its own Philox stream keyed by (seed, epoch, dataset index, occurrence), so an
// image's transform depends on nothing else -- not on the thread that makes it nor on its batch.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/random.h"

namespace ember::data {

struct FloatImage {
  int64_t channels = 0, height = 0, width = 0;
  std::vector<float> pixels;  // CHW
  float& at(int64_t c, int64_t y, int64_t x) { return pixels[(c * height + y) * width + x]; }
  float at(int64_t c, int64_t y, int64_t x) const { return pixels[(c * height + y) * width + x]; }
  void resize(int64_t c, int64_t h, int64_t w) {
    channels = c, height = h, width = w;
    pixels.resize(c * h * w);
  }
};

// The random numbers of one image. occurrence counts earlier appearances of the same index in the epoch
// (a weighted sampler draws with replacement; each copy gets its own transform).
class AugmentRandom {
 public:
  AugmentRandom(uint64_t seed, int64_t epoch, int64_t index, int64_t occurrence = 0);
  double uniform(double lo = 0.0, double hi = 1.0) { return lo + (hi - lo) * gen_.uniform(); }
  int64_t below(int64_t n) { return static_cast<int64_t>(gen_.below(static_cast<uint64_t>(n))); }  // [0, n)

 private:
  Generator gen_;
};

class Augmentation {
 public:
  virtual ~Augmentation() = default;
  virtual std::string describe() const = 0;  // "RandomCrop(size=32, padding=4, fill=0)"
  // Output height and width for an input of h x w (most keep the size).
  virtual void output_size(int64_t& h, int64_t& w) const {}
  // Transforms `img` in place; `scratch` is a buffer the transform may use (and swap with img).
  virtual void apply(FloatImage& img, FloatImage& scratch, AugmentRandom& rng) const = 0;
};

// Parameters as written: name -> text ("32", "(0.9,1.1)", "bilinear").
using AugmentParams = std::map<std::string, std::string>;
std::shared_ptr<const Augmentation> make_augmentation(const std::string& name, const AugmentParams& params);
std::vector<std::string> augmentation_names();

class AugmentPipeline {
 public:
  AugmentPipeline() = default;
  explicit AugmentPipeline(std::vector<std::shared_ptr<const Augmentation>> steps) : steps_(std::move(steps)) {}
  bool empty() const { return steps_.empty(); }
  const std::vector<std::shared_ptr<const Augmentation>>& steps() const { return steps_; }
  void output_size(int64_t& h, int64_t& w) const;
  void apply(FloatImage& img, FloatImage& scratch, AugmentRandom& rng) const;
  std::string describe() const;  // the steps joined by "; "

 private:
  std::vector<std::shared_ptr<const Augmentation>> steps_;
};

// "RandomCrop(32, padding=4); RandomHorizontalFlip(0.5)": steps separated by ';', positional parameters in
// the order of the table above, then keyword parameters. An empty string gives an empty pipeline.
AugmentPipeline parse_augmentations(const std::string& spec);
// One step per entry (a config file's list).
AugmentPipeline parse_augmentations(const std::vector<std::string>& steps);

// The study's augmentation (section 1.2.2, in its order): RandomHorizontalFlip(0.5) then RandomCrop(32, padding=4).
AugmentPipeline study_augmentation();

}  // namespace ember::data
