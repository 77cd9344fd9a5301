#include "models/registry.h"

#include <functional>
#include <utility>

#include "base/error.h"
#include "engine/autograd.h"
#include "engine/flop_count.h"
#include "models/cnn.h"
#include "models/context_fovea.h"
#include "models/resnet.h"
#include "models/vit.h"

namespace ember::models {

namespace {

using Builder = std::function<std::shared_ptr<nn::Module>(uint64_t seed, const ImageShape& input)>;

// The ViTs' patch grid and position tables are fixed at 8 x 8 patches of 4 x 4 x 3.
void require_cifar_shape(const char* model, const ImageShape& in) {
  EMBER_CHECK(in.channels == 3 && in.height == 32 && in.width == 32, model, " takes 3x32x32 images; these are ",
              in.channels, "x", in.height, "x", in.width, " (CNN, ResNet_18 and ResNet_34 take other shapes)");
}

const std::vector<std::pair<std::string, Builder>>& registry() {
  static const std::vector<std::pair<std::string, Builder>> models = {
      {"CNN", [](uint64_t seed, const ImageShape& in) { return make_cnn(seed, in.channels, in.height, in.width); }},
      {"ResNet_18",
       [](uint64_t seed, const ImageShape& in) {
         return make_resnet({2, 2, 2, 2}, seed, in.channels);
       }},
      {"ResNet_34",
       [](uint64_t seed, const ImageShape& in) {
         return make_resnet({3, 4, 6, 3}, seed, in.channels);
       }},
      {"ViT",
       [](uint64_t seed, const ImageShape& in) {
         require_cifar_shape("ViT", in);
         return make_vit(VitConfig{}, seed);
       }},
      {"ViT_small",
       [](uint64_t seed, const ImageShape& in) {
         require_cifar_shape("ViT_small", in);
         VitConfig c;
         c.small_datasets = true;
         return make_vit(c, seed);
       }},
      {"ViT_tiny",
       [](uint64_t seed, const ImageShape& in) {
         require_cifar_shape("ViT_tiny", in);
         VitConfig c;
         c.small_datasets = true;
         c.depth = 4, c.heads = 6, c.mlp_dim = 256;
         return make_vit(c, seed);
       }},
      {"ViT_simple",
       [](uint64_t seed, const ImageShape& in) {
         require_cifar_shape("ViT_simple", in);
         return make_simple_vit(seed);
       }},
      {"CNN_context_fovea",
       [](uint64_t seed, const ImageShape& in) {
         return make_context_fovea_cnn(seed, in.channels, in.height, in.width);
       }},
  };
  return models;
}

}  // namespace

std::shared_ptr<nn::Module> build_model(const std::string& name, uint64_t seed, const ImageShape& input) {
  for (const auto& [known, build] : registry())
    if (known == name) return build(seed, input);
  std::string valid;
  for (const auto& entry : registry()) valid += (valid.empty() ? "" : ", ") + entry.first;
  EMBER_FAIL("unknown model '", name, "'; valid models: ", valid);
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

int64_t forward_flops_per_image(nn::Module& model, const ImageShape& input, const Device& device) {
  const bool was_training = model.training();
  model.train(false);  // no BatchNorm statistics move, no dropout draws
  NoGradGuard no_grad;
  FlopCounter count;
  model.forward(Tensor::zeros({1, input.channels, input.height, input.width}, DType::f32, device));
  model.train(was_training);
  return count.flops();
}

}  // namespace ember::models
