// 2-D pooling over x [N, C, H, W] with a square window; stride defaults to the kernel (PyTorch's default).
#pragma once
#include "engine/nn/module.h"

namespace ember::nn {

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0);
  Tensor forward(const Tensor& x) override;
  int64_t kernel, stride, padding;
};

// Averages count the padding (PyTorch's count_include_pad=True).
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t kernel, int64_t stride = 0, int64_t padding = 0);
  Tensor forward(const Tensor& x) override;
  int64_t kernel, stride, padding;
};

}  // namespace ember::nn
