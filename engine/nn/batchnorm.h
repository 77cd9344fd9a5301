// BatchNorm2d over x [N, C, H, W]: y = (x - mean) / sqrt(var + eps) * weight + bias per channel.
// Training normalises with the batch statistics (biased variance over N, H, W) and updates the running
// statistics (running = (1 - momentum) running + momentum batch, with the unbiased variance) and
// num_batches_tracked; eval normalises with the running statistics. PyTorch's defaults: eps 1e-5,
// momentum 0.1, affine, tracking running statistics. With `reduce` set (dist::sync_batch_norm: PyTorch's
// SyncBatchNorm) training uses the statistics of the batch of all data-parallel ranks together.
#pragma once
#include "engine/nn/module.h"
#include "engine/ops.h"

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
  BatchNormReduce reduce;  // sums batch_norm's small statistics tensors over the ranks; empty: this batch's

 protected:
  Tensor normalize(const Tensor& x, int64_t spatial_dims, const char* name);
};

// BatchNorm3d: the same over x [N, C, D, H, W] (statistics over N, D, H, W), e.g. a frame sequence [N, C, T, H, W].
class BatchNorm3d : public BatchNorm2d {
 public:
  using BatchNorm2d::BatchNorm2d;
  Tensor forward(const Tensor& x) override;
};

}  // namespace ember::nn
