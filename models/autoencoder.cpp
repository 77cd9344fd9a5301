#include "models/autoencoder.h"

#include "engine/nn/activation.h"
#include "engine/nn/batchnorm.h"
#include "engine/nn/conv2d.h"
#include "engine/nn/flatten.h"
#include "engine/nn/pooling.h"
#include "engine/nn/upsample.h"
#include "engine/ops.h"

namespace ember::models {

namespace {

int64_t round_up_to_8(int64_t n) { return (n + 7) / 8 * 8; }

}  // namespace

Autoencoder::Autoencoder(uint64_t seed, const ImageShape& input, int64_t embedding_dim)
    : input_(input),
      embedding_dim_(embedding_dim),
      padded_h_(round_up_to_8(input.height)),
      padded_w_(round_up_to_8(input.width)) {
  EMBER_CHECK(input.channels >= 1 && input.height >= 1 && input.width >= 1, "Autoencoder: bad image shape ",
              input.channels, " x ", input.height, " x ", input.width);
  EMBER_CHECK((padded_h_ - input.height) % 2 == 0 && (padded_w_ - input.width) % 2 == 0, "Autoencoder: image ",
              input.height, " x ", input.width, " cannot be padded evenly to a multiple of 8 (", padded_h_, " x ",
              padded_w_, "); height and width must be even");
  EMBER_CHECK(embedding_dim >= 1, "Autoencoder: embedding_dim ", embedding_dim, " must be >= 1");
  Generator init(seed, RandomPurpose::init);
  const int64_t bottleneck = 128 * (padded_h_ / 8) * (padded_w_ / 8);

  // Conv2d(in, out, 3, padding 1), BatchNorm2d, ReLU.
  auto conv_bn_relu = [&](nn::Sequential& seq, int64_t in, int64_t out) {
    auto conv = seq.add(std::make_shared<nn::Conv2d>(in, out, 3, 1, 1, true, init));
    seq.add(std::make_shared<nn::BatchNorm2d>(out));
    seq.add(std::make_shared<nn::ReLU>());
    return conv;
  };
  encoder = register_module("encoder", std::make_shared<nn::Sequential>());
  auto first = conv_bn_relu(*encoder, input.channels, 32);
  first->params.pad_h = 1 + (padded_h_ - input.height) / 2;
  first->params.pad_w = 1 + (padded_w_ - input.width) / 2;
  encoder->add(std::make_shared<nn::MaxPool2d>(2));
  for (int64_t channels : {32, 64}) {
    conv_bn_relu(*encoder, channels, 2 * channels);
    encoder->add(std::make_shared<nn::MaxPool2d>(2));
  }
  encoder->add(std::make_shared<nn::Flatten>());
  encoder->add(std::make_shared<nn::Linear>(bottleneck, embedding_dim, true, init));

  decoder_input = register_module("decoder_input", std::make_shared<nn::Linear>(embedding_dim, bottleneck, true, init));

  decoder = register_module("decoder", std::make_shared<nn::Sequential>());
  decoder->add(std::make_shared<nn::ReLU>());
  for (int64_t channels : {128, 64}) {
    decoder->add(std::make_shared<nn::Upsample>(2));
    conv_bn_relu(*decoder, channels, channels / 2);
  }
  decoder->add(std::make_shared<nn::Upsample>(2));
  decoder->add(std::make_shared<nn::Conv2d>(32, input.channels, 3, 1, 1, true, init));
}

Tensor Autoencoder::encode(const Tensor& x) {
  EMBER_CHECK(x.dim() == 4 && x.size(1) == input_.channels && x.size(2) == input_.height && x.size(3) == input_.width,
              "Autoencoder: expects [N, ", input_.channels, ", ", input_.height, ", ", input_.width, "] images, got ",
              x.describe());
  return encoder->forward(x);
}

Tensor Autoencoder::decode(const Tensor& z) {
  EMBER_CHECK(z.dim() == 2 && z.size(1) == embedding_dim_, "Autoencoder: expects [N, ", embedding_dim_,
              "] embeddings, got ", z.describe());
  const Tensor h = decoder_input->forward(z).view({z.size(0), 128, padded_h_ / 8, padded_w_ / 8});
  Tensor out = sigmoid(decoder->forward(h));
  if (padded_h_ != input_.height) out = out.narrow(2, (padded_h_ - input_.height) / 2, input_.height);
  if (padded_w_ != input_.width) out = out.narrow(3, (padded_w_ - input_.width) / 2, input_.width);
  return out;
}

std::shared_ptr<nn::Sequential> make_embedding_mlp(int64_t in_features, int64_t hidden, int64_t classes,
                                                   uint64_t seed) {
  Generator init(seed, RandomPurpose::init);
  auto mlp = std::make_shared<nn::Sequential>();
  mlp->add(std::make_shared<nn::Linear>(in_features, hidden, true, init));
  mlp->add(std::make_shared<nn::ReLU>());
  mlp->add(std::make_shared<nn::Linear>(hidden, classes, true, init));
  return mlp;
}

}  // namespace ember::models
