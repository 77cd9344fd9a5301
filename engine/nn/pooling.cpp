#include "engine/nn/pooling.h"

#include "engine/ops.h"

namespace ember::nn {

MaxPool2d::MaxPool2d(int64_t kernel_, int64_t stride_, int64_t padding_)
    : kernel(kernel_), stride(stride_ > 0 ? stride_ : kernel_), padding(padding_) {}
Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, kernel, stride, padding); }

AvgPool2d::AvgPool2d(int64_t kernel_, int64_t stride_, int64_t padding_)
    : kernel(kernel_), stride(stride_ > 0 ? stride_ : kernel_), padding(padding_) {}
Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, kernel, stride, padding); }

}  // namespace ember::nn
