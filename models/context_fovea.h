// CNN_context_fovea: the study's Task 2.1.3 proposal (Karpathy et al., "Large-scale video classification with
// convolutional neural networks", 2014, its multiresolution CNN) for images larger than CIFAR-10's: two streams of
// the study CNN's feature extractor, fused before its classifier.
//   context: the whole image at half resolution (2 x 2 average pooling), H/2 x W/2;
//   fovea:   the central H/2 x W/2 crop at full resolution.
// Each stream sees a quarter of the pixels, so the two together cost half the plain CNN's convolution arithmetic on
// the full image. State dict: context.{0,2,5,7,10,12}.{weight,bias}, fovea.{...} (the CNN's `network` layers 0..14)
// and classifier.{0,2,4}.{weight,bias} (Linear 2 x 256 x H/16 x W/16 -> 1024 -> 512 -> 10, ReLU between).
#pragma once
#include <cstdint>
#include <memory>

#include "engine/nn/module.h"

namespace ember::models {

// Images of `channels` x height x width with height and width multiples of 16 (e.g. 3 x 64 x 64).
std::shared_ptr<nn::Module> make_context_fovea_cnn(uint64_t seed, int64_t channels, int64_t height, int64_t width);

}  // namespace ember::models
