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
    auto conv = [&](int64_t in, int64_t out) {
      network->add(std::make_shared<nn::Conv2d>(in, out, 3, 1, 1, true, init));
      network->add(std::make_shared<nn::ReLU>());
    };
    auto pool = [&] { network->add(std::make_shared<nn::MaxPool2d>(2)); };
    conv(channels, 32), conv(32, 64), pool();       // 0..4   -> 64 x 16 x 16 (CIFAR-10)
    conv(64, 128), conv(128, 128), pool();          // 5..9   -> 128 x 8 x 8
    conv(128, 256), conv(256, 256), pool();         // 10..14 -> 256 x 4 x 4
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

std::shared_ptr<nn::Module> make_cnn(uint64_t seed, int64_t channels, int64_t height, int64_t width) {
  return std::make_shared<Cnn>(seed, channels, height, width);
}

}  // namespace ember::models
