// The study's vision transformers for 32x32 inputs, patch 4 (64 tokens), 10 classes (spec models.md
// sections 4-6):
//   ViT         kentaroy47/vision-transformers-cifar10 models/vit.py: class token, learned positions,
//               pre-norm blocks with dropout 0.1, LN + Linear head. D 512, depth 6, 8 heads, mlp 512.
//   ViT_small   models/vit_small.py, "ViT for small datasets": as ViT with Shifted Patch Tokenization and
//               Locality Self-Attention. D 512, depth 6, 8 heads, mlp 512.
//   ViT_tiny    same class: D 512, depth 4, 6 heads, mlp 256.
//   ViT_simple  models/simplevit.py: fixed 2-D sin-cos positions, no class token, no dropout, no biases in
//               attention, mean pooling. D 512, depth 6, 8 heads, mlp 512.
#pragma once
#include <cstdint>
#include <memory>

#include "engine/nn/module.h"

namespace ember::models {

struct VitConfig {
  int64_t dim = 512, depth = 6, heads = 8, dim_head = 64, mlp_dim = 512;
  double dropout = 0.1, emb_dropout = 0.1;
  bool small_datasets = false;  // SPT + LSA (vit_small.py)
};
std::shared_ptr<nn::Module> make_vit(const VitConfig& config, uint64_t seed);
std::shared_ptr<nn::Module> make_simple_vit(uint64_t seed);

}  // namespace ember::models
