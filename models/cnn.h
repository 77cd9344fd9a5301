// CNN: Kaggle "cifar-10-cnn-using-pytorch" = Jovian's Cifar10CnnModel (docs: spec models.md section 2).
// One Sequential `network`: 6 convs 3x3 pad 1 with bias (3-32-64 | pool | 128-128 | pool | 256-256 | pool),
// Flatten, Linear 4096-1024-512-10; ReLU after every layer but the last. 5,851,338 parameters.
#pragma once
#include <cstdint>
#include <memory>

#include "engine/nn/module.h"

namespace ember::models {

std::shared_ptr<nn::Module> make_cnn(uint64_t seed);

}  // namespace ember::models
