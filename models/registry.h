// The study's models by name: CNN, ResNet_18, ResNet_34, ViT, ViT_small, ViT_tiny, ViT_simple.
// Each takes f32 [B, 3, 32, 32] and returns logits [B, 10]; its state_dict keys are those of the PyTorch
// original (spec models.md), so checkpoints load both ways. The CNN and the ResNets also take other image
// shapes (MNIST's 1 x 28 x 28: the study's Appendix A); the ViTs are built for 3 x 32 x 32 only.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/module.h"

namespace ember::models {

// Builds the named model with PyTorch's default initialisation drawn from Philox (seed, init stream);
// dropout layers draw from their own streams of the same seed. An unknown name is an error listing the
// valid ones.
struct ImageShape {
  int64_t channels = 3, height = 32, width = 32;
};
std::shared_ptr<nn::Module> build_model(const std::string& name, uint64_t seed = 0, const ImageShape& input = {});
std::vector<std::string> model_names();

}  // namespace ember::models
