#include "models/vit.h"

#include "engine/nn/activation.h"
#include "engine/nn/dropout.h"
#include "engine/nn/init.h"
#include "engine/nn/layernorm.h"
#include "engine/nn/linear.h"
#include "engine/nn/patchify.h"
#include "engine/nn/transformer.h"
#include "engine/ops.h"

namespace ember::models {

constexpr int64_t kPatch = 4, kTokens = 64, kClasses = 10;  // 32x32 images: an 8x8 grid of 4x4 patches

namespace {

// Shifted Patch Tokenization: x and its four one-pixel shifts (right, left, down, up; vacated pixels zero)
// stacked on channels [B, 15, 32, 32], patchified to [B, 64, 240], LayerNorm(240), Linear 240 -> D.
class ShiftedPatchTokenization : public nn::Module {
 public:
  ShiftedPatchTokenization(int64_t dim, Generator& init) {
    const int64_t patch_dim = kPatch * kPatch * 5 * 3;
    to_patch_tokens = register_module("to_patch_tokens", std::make_shared<nn::Sequential>());
    to_patch_tokens->add(std::make_shared<nn::Patchify>(kPatch));
    to_patch_tokens->add(std::make_shared<nn::LayerNorm>(patch_dim));
    to_patch_tokens->add(std::make_shared<nn::Linear>(patch_dim, dim, true, init));
  }
  Tensor forward(const Tensor& x) override { return to_patch_tokens->forward(spatial_shift(x)); }

  std::shared_ptr<nn::Sequential> to_patch_tokens;
};

class Vit : public nn::Module {
 public:
  Vit(const VitConfig& c, uint64_t seed) {
    nn::RandomStreams streams(seed);
    Generator& init = streams.init();
    // Construction follows the originals' __init__ order (patch embedding first); registration puts the
    // two own parameters first in state_dict, as PyTorch does.
    if (c.small_datasets) {
      to_patch_embedding =
          register_module("to_patch_embedding", std::make_shared<ShiftedPatchTokenization>(c.dim, init));
    } else {
      auto seq = std::make_shared<nn::Sequential>();
      seq->add(std::make_shared<nn::Patchify>(kPatch));
      seq->add(std::make_shared<nn::Linear>(kPatch * kPatch * 3, c.dim, true, init));
      to_patch_embedding = register_module("to_patch_embedding", seq);
    }
    pos_embedding = register_parameter("pos_embedding", rand_normal({1, kTokens + 1, c.dim}, 0.0, 1.0, init));
    cls_token = register_parameter("cls_token", rand_normal({1, 1, c.dim}, 0.0, 1.0, init));
    dropout = register_module("dropout", std::make_shared<nn::Dropout>(c.emb_dropout, streams.next_dropout()));
    transformer = register_module("transformer", std::make_shared<nn::Transformer>());
    for (int64_t i = 0; i < c.depth; ++i) {
      std::shared_ptr<nn::Module> attention;
      if (c.small_datasets)
        attention = std::make_shared<nn::LocalitySelfAttention>(c.dim, c.heads, c.dim_head, c.dropout, streams);
      else attention = std::make_shared<nn::Attention>(c.dim, c.heads, c.dim_head, c.dropout, streams);
      auto net = std::make_shared<nn::Sequential>();
      net->add(std::make_shared<nn::Linear>(c.dim, c.mlp_dim, true, init));
      net->add(std::make_shared<nn::GELU>());
      net->add(std::make_shared<nn::Dropout>(c.dropout, streams.next_dropout()));
      net->add(std::make_shared<nn::Linear>(c.mlp_dim, c.dim, true, init));
      net->add(std::make_shared<nn::Dropout>(c.dropout, streams.next_dropout()));
      transformer->add_block(std::make_shared<nn::PreNorm>(c.dim, attention),
                             std::make_shared<nn::PreNorm>(c.dim, std::make_shared<nn::FeedForward>(net)));
    }
    mlp_head = register_module("mlp_head", std::make_shared<nn::Sequential>());
    mlp_head->add(std::make_shared<nn::LayerNorm>(c.dim));
    mlp_head->add(std::make_shared<nn::Linear>(c.dim, kClasses, true, init));
  }

  Tensor forward(const Tensor& img) override {
    Tensor x = to_patch_embedding->forward(img);  // [B, 64, D]
    const int64_t b = x.size(0), d = x.size(2);
    x = cat({cls_token.expand({b, 1, d}), x}, 1);  // class token is token 0: [B, 65, D]
    x = dropout->forward(add(x, pos_embedding));
    x = transformer->forward(x);
    return mlp_head->forward(x.select(1, 0));  // class-token pooling
  }

  Tensor pos_embedding, cls_token;
  std::shared_ptr<nn::Module> to_patch_embedding;
  std::shared_ptr<nn::Dropout> dropout;
  std::shared_ptr<nn::Transformer> transformer;
  std::shared_ptr<nn::Sequential> mlp_head;
};

}  // namespace

std::shared_ptr<nn::Module> make_vit(const VitConfig& config, uint64_t seed) {
  return std::make_shared<Vit>(config, seed);
}

}  // namespace ember::models
