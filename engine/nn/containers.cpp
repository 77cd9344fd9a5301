#include "engine/nn/containers.h"

namespace ember::nn {

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& entry : children()) y = entry.second->forward(y);
  return y;
}

Tensor ModuleList::forward(const Tensor&) { EMBER_FAIL("ModuleList has no forward: call its modules"); }

}  // namespace ember::nn
