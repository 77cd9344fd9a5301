// SimpleViT (Beyer et al. 2022, "Better plain ViT baselines"), as kentaroy47's models/simplevit.py.
#include "engine/nn/activation.h"
#include "engine/nn/layernorm.h"
#include "engine/nn/linear.h"
#include "engine/nn/patchify.h"
#include "engine/nn/transformer.h"
#include "engine/ops.h"
#include "models/vit.h"

namespace ember::models {

namespace {

constexpr int64_t kPatch = 4, kGrid = 8, kClasses = 10;  // 32x32 images: an 8x8 grid of 4x4 patches

class SimpleVit : public nn::Module {
 public:
  SimpleVit(int64_t dim, int64_t depth, int64_t heads, int64_t dim_head, int64_t mlp_dim, uint64_t seed) {
    Generator init(seed, RandomPurpose::init);
    to_patch_embedding = register_module("to_patch_embedding", std::make_shared<nn::Sequential>());
    to_patch_embedding->add(std::make_shared<nn::Patchify>(kPatch));
    to_patch_embedding->add(std::make_shared<nn::Linear>(kPatch * kPatch * 3, dim, true, init));
    transformer = register_module("transformer", std::make_shared<nn::Transformer>());
    for (int64_t i = 0; i < depth; ++i) {
      auto net = std::make_shared<nn::Sequential>();
      net->add(std::make_shared<nn::LayerNorm>(dim));
      net->add(std::make_shared<nn::Linear>(dim, mlp_dim, true, init));
      net->add(std::make_shared<nn::GELU>());
      net->add(std::make_shared<nn::Linear>(mlp_dim, dim, true, init));
      transformer->add_block(std::make_shared<nn::SimpleAttention>(dim, heads, dim_head, init),
                             std::make_shared<nn::FeedForward>(net));
    }
    linear_head = register_module("linear_head", std::make_shared<nn::Sequential>());
    linear_head->add(std::make_shared<nn::LayerNorm>(dim));
    linear_head->add(std::make_shared<nn::Linear>(dim, kClasses, true, init));
    table = sincos_position_table_2d(kGrid, kGrid, dim);  // [64, D] f32, fixed, not in the state_dict
  }

  Tensor forward(const Tensor& img) override {
    Tensor x = to_patch_embedding->forward(img);  // [B, 64, D], tokens row-major over the grid
    // Cached on the activations' device and dtype (cast from the f32 table, as the original does).
    if (!positions.defined() || positions.device() != x.device() || positions.dtype() != x.dtype())
      positions = table.to(x.device()).to(x.dtype());
    x = transformer->forward(add(x, positions));
    return linear_head->forward(mean(x, {1}));  // mean over tokens
  }

  std::shared_ptr<nn::Sequential> to_patch_embedding;
  std::shared_ptr<nn::Transformer> transformer;
  std::shared_ptr<nn::Sequential> linear_head;
  Tensor table, positions;
};

}  // namespace

std::shared_ptr<nn::Module> make_simple_vit(uint64_t seed) {
  return std::make_shared<SimpleVit>(512, 6, 8, 64, 512, seed);
}

}  // namespace ember::models
