#include "engine/nn/containers.h"

#include "engine/nn/activation.h"

namespace ember::nn {

// A biased Conv2d or Linear followed by a ReLU or GELU runs as one layer: the bias add and the activation in
// one pass over the output each way (bias_activation) instead of two; the modules themselves are unchanged.
Tensor Sequential::forward(const Tensor& x) {
  const auto& modules = children();
  Tensor y = x;
  for (size_t i = 0; i < modules.size(); ++i) {
    auto* layer = dynamic_cast<FusesActivation*>(modules[i].second.get());
    const Activation next = i + 1 < modules.size() ? activation_of(*modules[i + 1].second) : Activation::none;
    if (layer && layer->has_bias() && next != Activation::none) {
      y = layer->forward_activated(y, next);
      ++i;
    } else {
      y = modules[i].second->forward(y);
    }
  }
  return y;
}

Tensor ModuleList::forward(const Tensor&) { EMBER_FAIL("ModuleList has no forward: call its modules"); }

}  // namespace ember::nn
