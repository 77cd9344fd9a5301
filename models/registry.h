// The study's models by name: CNN, ResNet_18, ResNet_34, ViT, ViT_small, ViT_tiny, ViT_simple.
// Each takes f32 [B, 3, 32, 32] and returns logits [B, 10]; its state_dict keys are those of the PyTorch
// original (spec models.md), so checkpoints load both ways. The CNN and the ResNets also take other image
// shapes (MNIST's 1 x 28 x 28: the study's Appendix A); the ViTs are built for 3 x 32 x 32 only. Beside them,
// CNN_context_fovea (Task 2.1.3, models/context_fovea.h) for larger images, e.g. 3 x 64 x 64.
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

// The floating-point operations of one image's forward pass (engine/flop_count.h: convolutions, matrix products
// and attention, 2 per multiply-add), counted by running one in eval mode without gradients on `device` (where the
// model's weights are).
int64_t forward_flops_per_image(nn::Module& model, const ImageShape& input, const Device& device);

}  // namespace ember::models
