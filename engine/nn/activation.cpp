#include "engine/nn/activation.h"

#include "engine/ops.h"

namespace ember::nn {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor GELU::forward(const Tensor& x) { return gelu(x); }

}  // namespace ember::nn
