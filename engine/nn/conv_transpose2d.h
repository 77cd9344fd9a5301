// ConvTranspose2d (PyTorch's): the transposed convolution, NCHW. x [N, C_in, H, W] -> [N, C_out, H', W'],
// H' = (H - 1) stride - 2 padding + kernel + output_padding. Parameters "weight" [C_in, C_out, k, k] and "bias"
// [C_out], PyTorch's names and layout, so state dicts load both ways.
#pragma once
#include "engine/nn/module.h"
#include "engine/ops.h"

namespace ember::nn {

class ConvTranspose2d : public Module {
 public:
  // Square kernel; draws weight, then bias, from `init`, both U(-b, b) with b = 1/sqrt(C_out * kernel^2) (PyTorch
  // takes a transposed weight's fan-in from its dimension 1).
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding,
                  int64_t output_padding, bool bias, Generator& init);
  Tensor forward(const Tensor& x) override;

  Tensor weight;  // [C_in, C_out, kernel, kernel]
  Tensor bias;    // [C_out], or undefined without bias
  Conv2dParams params;
  int64_t output_padding;
};

}  // namespace ember::nn
