// Linear: y = x W^T + b over the last dimension. x [..., in] -> [..., out].
#pragma once
#include "engine/nn/activation.h"
#include "engine/nn/module.h"

namespace ember::nn {

class Linear : public Module, public FusesActivation {
 public:
  // Draws weight, then bias, from `init` (PyTorch's order), both U(-1/sqrt(in), 1/sqrt(in)).
  Linear(int64_t in_features, int64_t out_features, bool bias, Generator& init);
  Tensor forward(const Tensor& x) override;
  bool has_bias() const override { return bias.defined(); }
  Tensor forward_activated(const Tensor& x, Activation act) override;

  Tensor weight;  // [out, in]
  Tensor bias;    // [out], or undefined without bias
};

}  // namespace ember::nn
