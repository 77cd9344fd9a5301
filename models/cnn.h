// CNN: Kaggle "cifar-10-cnn-using-pytorch" = Jovian's Cifar10CnnModel (docs: spec models.md section 2).
// One Sequential `network`: 6 convs 3x3 pad 1 with bias (3-32-64 | pool | 128-128 | pool | 256-256 | pool),
// Flatten, Linear 4096-1024-512-10; ReLU after every layer but the last. 5,851,338 parameters.
#pragma once
#include <cstdint>
#include <memory>

#include "engine/nn/module.h"

namespace ember::models {

// Images of `channels` x height x width (CIFAR-10: 3 x 32 x 32, the spec; MNIST: 1 x 28 x 28): the first conv takes
// `channels`, the first linear the flattened 256 x (height/8) x (width/8).
std::shared_ptr<nn::Module> make_cnn(uint64_t seed, int64_t channels = 3, int64_t height = 32, int64_t width = 32);

}  // namespace ember::models
