// Normalisation: pixels are scaled to [0,1] (x / 255), then per channel (x - mean) / std, as torchvision's
// ToTensor + Normalize. The study's --normalization flag (section 1.2.2):
//   No  : [0,1] only (mean 0, std 1)
//   N1  : mean and std per channel of the training split (train indices only, never validation or test)
//   N2  : mean 0, std 1 -- the same numbers as No (the study's N2 run reproduces the No run exactly)
//   N1_aug, N2_aug, aug : the same, plus the study augmentation (RandomCrop(32, padding 4) + flip 0.5)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace ember::data {

struct Normalization {
  std::vector<float> mean, std;  // per channel, in [0,1] units; empty = mean 0, std 1
};

struct Preprocessing {
  Normalization norm;
  bool augment = false;
};

// Per-channel mean and (population) standard deviation over the images `indices` (all when empty), pixels
// scaled to [0,1]. Sums in double per image, then over images in index order, so the result is exact to ~1e-12.
Normalization channel_stats(const ImageDataset& d, const std::vector<int64_t>& indices = {});

// Statistics written as text (a checkpoint's "mean"/"std" metadata: "0.4914,0.4822,0.4465"): `channels` finite
// numbers each, every std > 0. Errors name `source` (the file), the key and the value.
Normalization parse_normalization_values(const std::string& mean, const std::string& std, int64_t channels,
                                         const std::string& source);

Preprocessing parse_normalization(const std::string& flag, const ImageDataset& d,
                                  const std::vector<int64_t>& train_indices);

// out[c, p] = (in[c, p] / 255 - mean[c]) / std[c] for one CHW image (the loader's fast path, no augmentation).
void normalize_image(const uint8_t* in, int64_t channels, int64_t plane, const Normalization& norm, float* out);
// The same for an image already in [0,1] floats.
void normalize_image(const float* in, int64_t channels, int64_t plane, const Normalization& norm, float* out);
// The inverse, for pictures: out = round(clamp(in * std + mean, 0, 1) * 255).
void denormalize_image(const float* in, int64_t channels, int64_t plane, const Normalization& norm, uint8_t* out);

}  // namespace ember::data
