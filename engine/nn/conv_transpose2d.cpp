#include "engine/nn/conv_transpose2d.h"

#include "engine/nn/init.h"

namespace ember::nn {

ConvTranspose2d::ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride,
                                 int64_t padding, int64_t output_padding, bool has_bias, Generator& init)
    : output_padding(output_padding) {
  const int64_t fan_in = out_channels * kernel * kernel;
  weight = register_parameter("weight", uniform_fan_in({in_channels, out_channels, kernel, kernel}, fan_in, init));
  if (has_bias) bias = register_parameter("bias", uniform_fan_in({out_channels}, fan_in, init));
  params.stride_h = params.stride_w = stride;
  params.pad_h = params.pad_w = padding;
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return conv_transpose2d(x, weight, bias, params, output_padding, output_padding);
}

}  // namespace ember::nn
