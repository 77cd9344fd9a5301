#include "engine/nn/linear.h"

#include "engine/nn/init.h"
#include "engine/ops.h"

namespace ember::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool has_bias, Generator& init) {
  weight = register_parameter("weight", uniform_fan_in({out_features, in_features}, in_features, init));
  if (has_bias) bias = register_parameter("bias", uniform_fan_in({out_features}, in_features, init));
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

Tensor Linear::forward_activated(const Tensor& x, Activation act) {
  return bias_activation(linear(x, weight, Tensor()), bias, act, -1);
}

}  // namespace ember::nn
