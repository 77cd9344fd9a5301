// Upsample: nearest-neighbour upsampling by an integer factor (torch's nn.Upsample(scale_factor=s,
// mode="nearest")), [N, C, H, W] -> [N, C, sH, sW]. No parameters.
#pragma once
#include <cstdint>

#include "engine/nn/module.h"
#include "engine/ops.h"

namespace ember::nn {

class Upsample : public Module {
 public:
  explicit Upsample(int64_t scale) : scale(scale) {}
  Tensor forward(const Tensor& x) override { return upsample_nearest2d(x, scale); }

  int64_t scale;
};

}  // namespace ember::nn
