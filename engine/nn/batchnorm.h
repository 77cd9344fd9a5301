// BatchNorm2d over x [N, C, H, W]: y = (x - mean) / sqrt(var + eps) * weight + bias per channel.
// Training normalises with the batch statistics (biased variance over N, H, W) and updates the running
// statistics (running = (1 - momentum) running + momentum batch, with the unbiased variance) and
// num_batches_tracked; eval normalises with the running statistics. PyTorch's defaults: eps 1e-5,
// momentum 0.1, affine, tracking running statistics.
#pragma once
#include "engine/nn/module.h"

namespace ember::nn {

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1);
  Tensor forward(const Tensor& x) override;

  Tensor weight;               // [C], 1
  Tensor bias;                 // [C], 0
  Tensor running_mean;         // buffer [C], 0
  Tensor running_var;          // buffer [C], 1
  Tensor num_batches_tracked;  // buffer, i64 0-dim, +1 per training forward
  double eps, momentum;
};

}  // namespace ember::nn
