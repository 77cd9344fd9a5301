// Moving MNIST (Srivastava et al. 2015), generated on the fly from the MNIST digits: `digits` digits bounce
// around a frame_size x frame_size frame for `frames` frames; each frame is the pixelwise max of the digits.
//
// Each digit gets a random MNIST image, a random start (top-left corner uniform in [0, frame_size -
// digit_size]^2), a random direction (uniform angle) and a random speed (uniform in [min_speed, max_speed]
// pixels per frame); it moves in a straight line and is reflected at the borders (the position mirrored, that
// velocity component negated), so it never leaves the frame. Drawn at the rounded position.
// The classic setup is frame_size 64, digit_size 28, speeds 2-5 px per frame; a smaller frame scales digits and
// speeds by frame_size / 64 (digits shrunk by area averaging), so a 32x32 frame shows the same motion at half size.
//
// Sequence `index` of the set `seed` depends on (seed, index) only (its draws are a fixed slice of one Philox
// stream), so any subset, in any order, on any thread, is the same.
#pragma once
#include <cstdint>
#include <vector>

#include "data/dataset.h"
#include "engine/tensor.h"

namespace ember::data {

struct MovingMnistOptions {
  int64_t frames = 20;
  int64_t frame_size = 64;
  int64_t digits = 2;
  int64_t digit_size = 0;                   // 0: round(28 * frame_size / 64), at most 28
  double min_speed = 2.0, max_speed = 5.0;  // pixels per frame at frame_size 64; scaled by frame_size / 64
};

// One digit's trip: the MNIST image it shows and its top-left corner in every frame.
struct DigitPath {
  int64_t image = 0;
  std::vector<int64_t> x, y;  // [frames]
};

class MovingMnist {
 public:
  // `mnist`: 1 x 28 x 28 images (load_mnist). The digits are resized once here.
  MovingMnist(const ImageDataset& mnist, const MovingMnistOptions& options);

  const MovingMnistOptions& options() const { return options_; }
  int64_t digit_size() const { return digit_size_; }
  // A resized digit, digit_size x digit_size bytes.
  const uint8_t* digit(int64_t image) const { return digits_.data() + image * digit_size_ * digit_size_; }

  std::vector<DigitPath> paths(uint64_t seed, int64_t index) const;
  // Sequence `index` of set `seed`: frames x frame_size x frame_size bytes at `out`.
  void render(uint64_t seed, int64_t index, uint8_t* out) const;
  // The sequences `indices` of set `seed` as f32 [indices.size(), 1, frames, frame_size, frame_size] in [0, 1]
  // (pixel / 255), the layout of models::NextFrameModel.
  Tensor batch(uint64_t seed, const std::vector<int64_t>& indices) const;

 private:
  MovingMnistOptions options_;
  int64_t digit_size_ = 0, images_ = 0;
  std::vector<uint8_t> digits_;  // images_ x digit_size_ x digit_size_
};

}  // namespace ember::data
