// Parameter-free activations as modules, so they take their index in a Sequential as in PyTorch.
#pragma once
#include "engine/nn/module.h"
#include "engine/ops.h"

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

// x for x > 0, negative_slope * x otherwise (the DCGAN discriminator's 0.2).
class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override;
  double negative_slope;
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

// A layer with a bias that can apply the activation following it in the same pass (bias_activation):
// Sequential fuses such a layer and the ReLU or GELU right after it. Conv2d and Linear are.
class FusesActivation {
 public:
  virtual ~FusesActivation() = default;
  virtual bool has_bias() const = 0;
  // act(forward(x)), the bias added in the activation's pass; only called when has_bias().
  virtual Tensor forward_activated(const Tensor& x, Activation act) = 0;
};

// relu for a ReLU module, gelu for a GELU, none for anything else.
Activation activation_of(const Module& m);

}  // namespace ember::nn
