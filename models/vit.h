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

#include "engine/nn/containers.h"

namespace ember::models {

struct VitConfig {
  int64_t dim = 512, depth = 6, heads = 8, dim_head = 64, mlp_dim = 512;
  double dropout = 0.1, emb_dropout = 0.1;
  bool small_datasets = false;  // SPT + LSA (vit_small.py)
};
std::shared_ptr<nn::Module> make_vit(const VitConfig& config, uint64_t seed);
std::shared_ptr<nn::Module> make_simple_vit(uint64_t seed);

// The residual stack shared by all ViTs: `layers` is a ModuleList of [attention, feed-forward] pairs and
// each block computes x = attention(x) + x; x = feed_forward(x) + x. No LayerNorm after the last block.
class Transformer : public nn::Module {
 public:
  Transformer();
  void add_block(std::shared_ptr<nn::Module> attention, std::shared_ptr<nn::Module> feed_forward);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::ModuleList> layers;
};

// Holds its MLP as the child `net`, which is where the originals' parameter names put it.
class FeedForward : public nn::Module {
 public:
  explicit FeedForward(std::shared_ptr<nn::Sequential> net);
  Tensor forward(const Tensor& x) override { return net->forward(x); }

  std::shared_ptr<nn::Sequential> net;
};

}  // namespace ember::models
