#include "engine/nn/activation.h"

#include "engine/ops.h"

namespace ember::nn {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor GELU::forward(const Tensor& x) { return gelu(x); }
Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, negative_slope); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }

Activation activation_of(const Module& m) {
  if (dynamic_cast<const ReLU*>(&m)) return Activation::relu;
  if (dynamic_cast<const GELU*>(&m)) return Activation::gelu;
  return Activation::none;
}

}  // namespace ember::nn
