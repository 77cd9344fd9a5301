// The building blocks of the study's vision transformers (models/vit.cpp, models/simple_vit.cpp): multi-head
// self-attention in its three variants, PreNorm, the feed-forward block and the residual stack.
//
// With width D, H heads of size dh and inner = H*dh, for x [B, N, D]:
//   qkv = x W_qkv^T (no bias) -> [B, N, 3 inner]; q, k, v are its consecutive thirds, head h uses columns
//   h*dh .. h*dh+dh-1 of each third; S = q k^T * scale per head [B, H, N, N]; P = softmax(S) over keys;
//   O = P v; heads concatenated head-major back to [B, N, inner]; then the output projection.
//
//   Attention               ViT (lucidrains/kentaroy47): scale dh^-0.5, to_out = Sequential(Linear, Dropout)
//   LocalitySelfAttention   ViT for small datasets (LSA): scale exp(temperature), a learned 0-dim parameter
//                           initialised to ln(dh^-0.5); the diagonal of S is set to the dtype's lowest
//                           finite value so a token never attends to itself
//   SimpleAttention         SimpleViT: its own LayerNorm first, to_out = Linear without bias
// No dropout on P in any of them. All three run the fused packed_self_attention (engine/ops.h).
#pragma once
#include <memory>

#include "engine/nn/containers.h"
#include "engine/nn/init.h"
#include "engine/nn/layernorm.h"
#include "engine/nn/linear.h"

namespace ember::nn {

class Attention : public Module {
 public:
  Attention(int64_t dim, int64_t heads, int64_t dim_head, double dropout, RandomStreams& streams);
  Tensor forward(const Tensor& x) override;

  int64_t heads;
  double scale;
  std::shared_ptr<Linear> to_qkv;
  std::shared_ptr<Sequential> to_out;  // 0 Linear(inner, dim), 1 Dropout
};

class LocalitySelfAttention : public Module {
 public:
  LocalitySelfAttention(int64_t dim, int64_t heads, int64_t dim_head, double dropout, RandomStreams& streams);
  Tensor forward(const Tensor& x) override;

  int64_t heads;
  Tensor temperature;  // 0-dim, ln(dh^-0.5)
  std::shared_ptr<Linear> to_qkv;
  std::shared_ptr<Sequential> to_out;  // 0 Linear(inner, dim), 1 Dropout
};

class SimpleAttention : public Module {
 public:
  SimpleAttention(int64_t dim, int64_t heads, int64_t dim_head, Generator& init);
  Tensor forward(const Tensor& x) override;

  int64_t heads;
  double scale;
  std::shared_ptr<LayerNorm> norm;
  std::shared_ptr<Linear> to_qkv;
  std::shared_ptr<Linear> to_out;  // no bias
};

// fn(LayerNorm(x)): the pre-norm sub-block of ViT's transformer (the residual add is the caller's).
class PreNorm : public Module {
 public:
  PreNorm(int64_t dim, std::shared_ptr<Module> fn);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<LayerNorm> norm;
  std::shared_ptr<Module> fn;
};

// The residual stack shared by all ViTs: `layers` is a ModuleList of [attention, feed-forward] pairs and
// each block computes x = attention(x) + x; x = feed_forward(x) + x. No LayerNorm after the last block.
class Transformer : public Module {
 public:
  Transformer();
  void add_block(std::shared_ptr<Module> attention, std::shared_ptr<Module> feed_forward);
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<ModuleList> layers;
};

// Holds its MLP as the child `net`, which is where the originals' parameter names put it.
class FeedForward : public Module {
 public:
  explicit FeedForward(std::shared_ptr<Sequential> net);
  Tensor forward(const Tensor& x) override { return net->forward(x); }

  std::shared_ptr<Sequential> net;
};

}  // namespace ember::nn
