#include "engine/nn/dropout.h"

#include "engine/ops.h"

namespace ember::nn {

Dropout::Dropout(double p_, Generator generator_) : p(p_), generator(generator_) {
  EMBER_CHECK(p >= 0 && p < 1, "Dropout: probability ", p, " outside [0, 1)");
  register_generator(&generator);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, training(), generator); }

}  // namespace ember::nn
