#include "models/cnn.h"

#include "engine/nn/activation.h"
#include "engine/nn/containers.h"
#include "engine/nn/conv2d.h"
#include "engine/nn/flatten.h"
#include "engine/nn/linear.h"
#include "engine/nn/pooling.h"

namespace ember::models {

namespace {

class Cnn : public nn::Module {
 public:
  Cnn(uint64_t seed, int64_t channels, int64_t height, int64_t width) {
    Generator init(seed, RandomPurpose::init);
    network = register_module("network", std::make_shared<nn::Sequential>());
    append_cnn_features(*network, channels, init);  // 0..14 -> 256 x 4 x 4 (CIFAR-10)
    network->add(std::make_shared<nn::Flatten>());  // 15 -> 4096
    network->add(std::make_shared<nn::Linear>(256 * (height / 8) * (width / 8), 1024, true, init));
    network->add(std::make_shared<nn::ReLU>());
    network->add(std::make_shared<nn::Linear>(1024, 512, true, init));
    network->add(std::make_shared<nn::ReLU>());
    network->add(std::make_shared<nn::Linear>(512, 10, true, init));  // 20
  }
  Tensor forward(const Tensor& x) override { return network->forward(x); }

  std::shared_ptr<nn::Sequential> network;
};

}  // namespace

void append_cnn_features(nn::Sequential& net, int64_t channels, Generator& init) {
  auto conv = [&](int64_t in, int64_t out) {
    net.add(std::make_shared<nn::Conv2d>(in, out, 3, 1, 1, true, init));
    net.add(std::make_shared<nn::ReLU>());
  };
  auto pool = [&] { net.add(std::make_shared<nn::MaxPool2d>(2)); };
  conv(channels, 32), conv(32, 64), pool();  // +0..4   -> 64 x H/2 x W/2
  conv(64, 128), conv(128, 128), pool();     // +5..9   -> 128 x H/4 x W/4
  conv(128, 256), conv(256, 256), pool();    // +10..14 -> 256 x H/8 x W/8
}

std::shared_ptr<nn::Module> make_cnn(uint64_t seed, int64_t channels, int64_t height, int64_t width) {
  return std::make_shared<Cnn>(seed, channels, height, width);
}

}  // namespace ember::models
