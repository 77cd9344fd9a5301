#include "models/registry.h"

#include <functional>
#include <utility>

#include "models/cnn.h"
#include "models/resnet.h"
#include "models/vit.h"

namespace ember::models {

namespace {

using Builder = std::function<std::shared_ptr<nn::Module>(uint64_t seed)>;

const std::vector<std::pair<std::string, Builder>>& registry() {
  static const std::vector<std::pair<std::string, Builder>> models = {
      {"CNN", make_cnn},
      {"ResNet_18", [](uint64_t seed) { return make_resnet({2, 2, 2, 2}, seed); }},
      {"ResNet_34", [](uint64_t seed) { return make_resnet({3, 4, 6, 3}, seed); }},
      {"ViT", [](uint64_t seed) { return make_vit(VitConfig{}, seed); }},
      {"ViT_small",
       [](uint64_t seed) {
         VitConfig c;
         c.small_datasets = true;
         return make_vit(c, seed);
       }},
      {"ViT_tiny",
       [](uint64_t seed) {
         VitConfig c;
         c.small_datasets = true;
         c.depth = 4, c.heads = 6, c.mlp_dim = 256;
         return make_vit(c, seed);
       }},
      {"ViT_simple", make_simple_vit},
  };
  return models;
}

}  // namespace

std::shared_ptr<nn::Module> build_model(const std::string& name, uint64_t seed) {
  for (const auto& [known, build] : registry())
    if (known == name) return build(seed);
  std::string valid;
  for (const auto& entry : registry()) valid += (valid.empty() ? "" : ", ") + entry.first;
  EMBER_FAIL("unknown model '", name, "'; valid models: ", valid);
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

}  // namespace ember::models
