// CNN: Kaggle "cifar-10-cnn-using-pytorch" = Jovian's Cifar10CnnModel (docs: spec models.md section 2).
// One Sequential `network`: 6 convs 3x3 pad 1 with bias (3-32-64 | pool | 128-128 | pool | 256-256 | pool),
// Flatten, Linear 4096-1024-512-10; ReLU after every layer but the last. 5,851,338 parameters.
#pragma once
#include <cstdint>
#include <memory>

#include "engine/nn/containers.h"
#include "engine/nn/module.h"
#include "engine/random.h"

namespace ember::models {

// Images of `channels` x height x width (CIFAR-10: 3 x 32 x 32, the spec; MNIST: 1 x 28 x 28): the first conv takes
// `channels`, the first linear the flattened 256 x (height/8) x (width/8).
// The CNN's feature extractor, appended to `net` as 15 layers (3 x [conv-ReLU, conv-ReLU, max-pool 2]): `channels` x
// H x W in, 256 x H/8 x W/8 out; weights drawn from `init` in layer order (the context + fovea model reuses it).
void append_cnn_features(nn::Sequential& net, int64_t channels, Generator& init);

std::shared_ptr<nn::Module> make_cnn(uint64_t seed, int64_t channels = 3, int64_t height = 32, int64_t width = 32);

}  // namespace ember::models
