// Flatten [B, d1, d2, ...] -> [B, d1*d2*...] in row-major order (for NCHW: index c*H*W + h*W + w).
#pragma once
#include "engine/nn/module.h"

namespace ember::nn {

class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x.flatten(1); }
};

}  // namespace ember::nn
