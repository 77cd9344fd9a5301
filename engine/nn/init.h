// PyTorch's default initialisation, drawn from ember's Philox streams (so the same seed gives the same
// weights on every device), and the random streams a model is built from.
#pragma once
#include <cstdint>

#include "engine/random.h"
#include "engine/tensor.h"

namespace ember::nn {

// U(-b, b) with b = 1/sqrt(fan_in): PyTorch's default for Conv2d/Linear weights (kaiming_uniform with
// a = sqrt 5 reduces to this bound) and biases. fan_in = in_features, or C_in * kH * kW for a convolution.
Tensor uniform_fan_in(const Shape& shape, int64_t fan_in, Generator& gen);

// Parameters draw from one init stream in construction order; each Dropout gets a stream of its own,
// (purpose dropout << 32) + k for the k-th dropout built, so masks of different layers are independent and
// each layer's offset can be saved and restored.
class RandomStreams {
 public:
  explicit RandomStreams(uint64_t seed) : seed_(seed), init_(seed, RandomPurpose::init) {}
  Generator& init() { return init_; }
  Generator next_dropout();

 private:
  uint64_t seed_;
  Generator init_;
  uint64_t dropouts_ = 0;
};

}  // namespace ember::nn
