#include "engine/nn/batchnorm.h"

#include "engine/autograd.h"
#include "engine/ops.h"

namespace ember::nn {

BatchNorm2d::BatchNorm2d(int64_t channels, double eps_, double momentum_) : eps(eps_), momentum(momentum_) {
  weight = register_parameter("weight", Tensor::ones({channels}));
  bias = register_parameter("bias", Tensor::zeros({channels}));
  running_mean = register_buffer("running_mean", Tensor::zeros({channels}));
  running_var = register_buffer("running_var", Tensor::ones({channels}));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::i64));
}

Tensor BatchNorm2d::forward(const Tensor& x) { return normalize(x, 2, "BatchNorm2d"); }

Tensor BatchNorm3d::forward(const Tensor& x) { return normalize(x, 3, "BatchNorm3d"); }

Tensor BatchNorm2d::normalize(const Tensor& x, int64_t spatial_dims, const char* name) {
  EMBER_CHECK(x.dim() == 2 + spatial_dims && x.size(1) == weight.numel(), name, "(", weight.numel(),
              "): expected input [N, ", weight.numel(), spatial_dims == 2 ? ", H, W], got " : ", D, H, W], got ",
              x.describe());
  if (training()) {
    // Counted on the tensor's own device (no host read-back inside a step); the f32 detour is exact up to
    // 2^24 = 16.7M batches.
    NoGradGuard no_grad;
    num_batches_tracked.copy_(add_scalar(num_batches_tracked.to(DType::f32), 1.0));
  }
  return batch_norm(x, weight, bias, running_mean, running_var, training(), momentum, eps, reduce);
}

}  // namespace ember::nn
