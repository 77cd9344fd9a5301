// Conv2d: cross-correlation with zero padding, NCHW. x [N, C_in, H, W] -> [N, C_out, H', W'],
// H' = (H + 2 padding - kernel) / stride + 1.
#pragma once
#include "engine/nn/activation.h"
#include "engine/nn/module.h"
#include "engine/ops.h"

namespace ember::nn {

class Conv2d : public Module, public FusesActivation {
 public:
  // Square kernel; draws weight, then bias, from `init`, both U(-b, b) with b = 1/sqrt(C_in * kernel^2).
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding, bool bias,
         Generator& init);
  Tensor forward(const Tensor& x) override;
  bool has_bias() const override { return bias.defined(); }
  Tensor forward_activated(const Tensor& x, Activation act) override;

  Tensor weight;  // [C_out, C_in, kernel, kernel]
  Tensor bias;    // [C_out], or undefined without bias
  Conv2dParams params;
};

}  // namespace ember::nn
