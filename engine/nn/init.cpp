#include "engine/nn/init.h"

#include <cmath>

namespace ember::nn {

Tensor uniform_fan_in(const Shape& shape, int64_t fan_in, Generator& gen) {
  EMBER_CHECK(fan_in > 0, "uniform_fan_in: fan_in must be positive, got ", fan_in, " for ", shape_str(shape));
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return rand_uniform(shape, -bound, bound, gen);
}

Generator RandomStreams::next_dropout() {
  return Generator(seed_, (static_cast<uint64_t>(RandomPurpose::dropout) << 32) + dropouts_++);
}

}  // namespace ember::nn
