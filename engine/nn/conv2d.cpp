#include "engine/nn/conv2d.h"

#include "engine/nn/init.h"

namespace ember::nn {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding,
               bool has_bias, Generator& init) {
  const int64_t fan_in = in_channels * kernel * kernel;
  weight = register_parameter("weight", uniform_fan_in({out_channels, in_channels, kernel, kernel}, fan_in, init));
  if (has_bias) bias = register_parameter("bias", uniform_fan_in({out_channels}, fan_in, init));
  params.stride_h = params.stride_w = stride;
  params.pad_h = params.pad_w = padding;
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, params); }

Tensor Conv2d::forward_activated(const Tensor& x, Activation act) {
  return bias_activation(conv2d(x, weight, Tensor(), params), bias, act, 1);
}

}  // namespace ember::nn
