// Parameter-free activations as modules, so they take their index in a Sequential as in PyTorch.
#pragma once
#include "engine/nn/module.h"

namespace ember::nn {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

// Exact GELU: 0.5 x (1 + erf(x / sqrt 2)), not the tanh approximation.
class GELU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

}  // namespace ember::nn
