// Tensors drawn from a Generator (base/random.h): element i of a fill is element offset + i of the generator's
// Philox stream, so a fill is the same on any device and thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "base/random.h"
#include "engine/tensor.h"

namespace ember {

// Tensors filled from the generator (dtype f32 or f64, on `device`).
Tensor rand_uniform(const Shape& shape, double lo, double hi, Generator& gen, DType dtype = DType::f32,
                    Device device = Device::cpu());
Tensor rand_normal(const Shape& shape, double mean, double std, Generator& gen, DType dtype = DType::f32,
                   Device device = Device::cpu());
// u8 tensor, 1 with probability p.
Tensor rand_bernoulli(const Shape& shape, double p, Generator& gen, Device device = Device::cpu());

}  // namespace ember
