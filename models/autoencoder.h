// A convolutional autoencoder for image embeddings (the study's Task 2, 2.1.2), and the small MLP that
// classifies its embeddings. Not in the registry (registry.h), which holds the 10-class classifiers.
//
// Autoencoder, for C x H x W images with pixels in [0, 1] (CIFAR-10 3 x 32 x 32, MNIST 1 x 28 x 28); PyTorch names:
//   encoder        0 Conv2d(C, 32, 3) 1 BatchNorm2d 2 ReLU 3 MaxPool2d(2)     -> 32 x H'/2 x W'/2
//                  4 Conv2d(32, 64, 3) 5 BatchNorm2d 6 ReLU 7 MaxPool2d(2)    -> 64 x H'/4 x W'/4
//                  8 Conv2d(64, 128, 3) 9 BatchNorm2d 10 ReLU 11 MaxPool2d(2) -> 128 x H'/8 x W'/8
//                  12 Flatten 13 Linear(128 H'W'/64, D)                       -> the embedding z [N, D]
//   decoder_input  Linear(D, 128 H'W'/64), viewed as [N, 128, H'/8, W'/8]
//   decoder        0 ReLU 1 Upsample(2) 2 Conv2d(128, 64, 3) 3 BatchNorm2d 4 ReLU
//                  5 Upsample(2) 6 Conv2d(64, 32, 3) 7 BatchNorm2d 8 ReLU
//                  9 Upsample(2) 10 Conv2d(32, C, 3)                          -> C x H' x W'
//   then sigmoid, and the centre H x W cropped.
// H' and W' are H and W rounded up to a multiple of 8: the first convolution pads by 1 + (H' - H) / 2 (3 for MNIST's
// 28, giving 32), so three 2x2 poolings divide exactly and the decoder mirrors them; the crop takes the padding
// back off. H' - H and W' - W must be even. Every 3x3 convolution but the first pads by 1.
// Why BatchNorm: without it, Adam at lr 1e-3 on MNIST (mostly black pixels) grows every layer's scale together
// until the sigmoid's input is around -500 everywhere (measured with the PyTorch twin: pre-sigmoid mean -8 after 6
// steps, -600 after 50); the output is then 0 and its gradient vanishes for good (val MSE stuck at mean(x^2) =
// 0.112). With BatchNorm the same run reaches val MSE 0.020 in 3 epochs.
#pragma once
#include <cstdint>
#include <memory>

#include "engine/nn/containers.h"
#include "engine/nn/linear.h"
#include "engine/nn/module.h"
#include "models/registry.h"

namespace ember::models {

class Autoencoder : public nn::Module {
 public:
  // Draws the initial weights from Philox (seed, init stream) in parameter order (PyTorch's default init).
  Autoencoder(uint64_t seed, const ImageShape& input, int64_t embedding_dim = 64);

  Tensor encode(const Tensor& x);  // [N, C, H, W] -> [N, D]
  Tensor decode(const Tensor& z);  // [N, D] -> [N, C, H, W] in (0, 1)
  Tensor forward(const Tensor& x) override { return decode(encode(x)); }

  const ImageShape& input_shape() const { return input_; }
  int64_t embedding_dim() const { return embedding_dim_; }

  std::shared_ptr<nn::Sequential> encoder;
  std::shared_ptr<nn::Linear> decoder_input;
  std::shared_ptr<nn::Sequential> decoder;

 private:
  ImageShape input_;
  int64_t embedding_dim_;
  int64_t padded_h_, padded_w_;  // H', W'
};

// The classifier of embeddings: Sequential 0 Linear(in, hidden) 1 ReLU 2 Linear(hidden, classes).
std::shared_ptr<nn::Sequential> make_embedding_mlp(int64_t in_features, int64_t hidden, int64_t classes, uint64_t seed);

}  // namespace ember::models
