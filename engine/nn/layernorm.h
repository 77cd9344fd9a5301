// LayerNorm over the last dimension: y = (x - mean) / sqrt(var + eps) * weight + bias, biased variance.
#pragma once
#include "engine/nn/module.h"

namespace ember::nn {

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-5);
  Tensor forward(const Tensor& x) override;

  Tensor weight;  // [dim], 1
  Tensor bias;    // [dim], 0
  double eps;
};

}  // namespace ember::nn
