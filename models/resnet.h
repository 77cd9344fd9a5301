// ResNet_18 / ResNet_34, the CIFAR variant of kuangliu/pytorch-cifar models/resnet.py (spec models.md
// section 3): conv 3x3 64 (no bias) + BN + ReLU stem without max-pool, four stages of BasicBlocks (widths
// 64/128/256/512, first-block strides 1/2/2/2), average pool 4, Linear 512 -> 10.
// ResNet_18: [2, 2, 2, 2] blocks, 11,173,962 parameters; ResNet_34: [3, 4, 6, 3], 21,282,122.
#pragma once
#include <array>
#include <cstdint>
#include <memory>

#include "engine/nn/module.h"

namespace ember::models {

// in_channels: 3 for CIFAR-10 (the spec), 1 for MNIST; 28x28 images also end at 1x1 after the final 4x4 pool.
std::shared_ptr<nn::Module> make_resnet(const std::array<int, 4>& blocks_per_stage, uint64_t seed,
                                        int64_t in_channels = 3);

}  // namespace ember::models
