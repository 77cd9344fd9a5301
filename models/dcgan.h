// DCGAN (Radford et al. 2015) after PyTorch's DCGAN tutorial (pytorch/examples dcgan, "DCGAN Tutorial"), sized for
// square images of side 2^k >= 8 (CIFAR-10: 32): each module is one Sequential `main`, so its parameters carry the
// tutorial's names ("main.0.weight", "main.1.running_mean", ...) and state dicts load into the PyTorch twin
// (tests/python/dcgan_twin.py) both ways.
//
// Generator, z [N, z_dim] (or [N, z_dim, 1, 1]) -> images [N, C, S, S] in [-1, 1]; for S = 32 and g = features:
//   main.0 ConvTranspose2d(z_dim, 4g, 4, 1, 0, bias=False) -> 4x4, main.1 BatchNorm2d, main.2 ReLU
//   main.3 ConvTranspose2d(4g, 2g, 4, 2, 1, bias=False)    -> 8x8, main.4 BatchNorm2d, main.5 ReLU
//   main.6 ConvTranspose2d(2g, g, 4, 2, 1, bias=False)     -> 16x16, main.7 BatchNorm2d, main.8 ReLU
//   main.9 ConvTranspose2d(g, C, 4, 2, 1, bias=False)      -> 32x32, main.10 Tanh
// Discriminator, images [N, C, S, S] -> one logit per image [N] (no sigmoid: the loss takes logits); d = features:
//   main.0 Conv2d(C, d, 4, 2, 1, bias=False) -> 16x16, main.1 LeakyReLU(0.2)
//   main.2 Conv2d(d, 2d, 4, 2, 1, bias=False) -> 8x8, main.3 BatchNorm2d, main.4 LeakyReLU(0.2)
//   main.5 Conv2d(2d, 4d, 4, 2, 1, bias=False) -> 4x4, main.6 BatchNorm2d, main.7 LeakyReLU(0.2)
//   main.8 Conv2d(4d, 1, 4, 1, 0, bias=False) -> 1x1
// Other sizes add or drop one stride-2 stage per factor of 2 (features doubling towards the 4x4 end).
// Initialisation is the tutorial's weights_init: convolution weights N(0, 0.02), BatchNorm weight N(1, 0.02) and
// bias 0, drawn from Philox (seed, init) in parameter order.
#pragma once
#include <cstdint>
#include <memory>

#include "engine/nn/module.h"

namespace ember::models {

struct DcganSizes {
  int64_t z_dim = 100;
  int64_t channels = 3;
  int64_t image_size = 32;  // 2^k, at least 8
  int64_t generator_features = 64;
  int64_t discriminator_features = 64;
};

std::shared_ptr<nn::Module> make_dcgan_generator(const DcganSizes& sizes, uint64_t seed);
std::shared_ptr<nn::Module> make_dcgan_discriminator(const DcganSizes& sizes, uint64_t seed);

}  // namespace ember::models
