#include "models/resnet.h"

#include <string>

#include "engine/nn/batchnorm.h"
#include "engine/nn/containers.h"
#include "engine/nn/conv2d.h"
#include "engine/nn/linear.h"
#include "engine/ops.h"

namespace ember::models {

namespace {

// out = ReLU(BN2(conv2(ReLU(BN1(conv1(x))))) + shortcut(x)). The shortcut is the identity (an empty
// Sequential: no keys) unless the block changes stride or width; then conv 1x1 (stride s, no bias) -> BN.
class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t in_channels, int64_t channels, int64_t stride, Generator& init) {
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(in_channels, channels, 3, stride, 1, false, init));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(channels));
    conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(channels, channels, 3, 1, 1, false, init));
    bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(channels));
    shortcut = register_module("shortcut", std::make_shared<nn::Sequential>());
    if (stride != 1 || in_channels != channels) {
      shortcut->add(std::make_shared<nn::Conv2d>(in_channels, channels, 1, stride, 0, false, init));
      shortcut->add(std::make_shared<nn::BatchNorm2d>(channels));
    }
  }
  Tensor forward(const Tensor& x) override {
    Tensor out = relu(bn1->forward(conv1->forward(x)));
    out = bn2->forward(conv2->forward(out));
    return relu(add(out, shortcut->forward(x)));
  }

  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Sequential> shortcut;
};

class ResNet : public nn::Module {
 public:
  ResNet(const std::array<int, 4>& blocks_per_stage, uint64_t seed, int64_t image_channels) {
    Generator init(seed, RandomPurpose::init);
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(image_channels, 64, 3, 1, 1, false, init));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(64));
    int64_t in_channels = 64;
    for (int s = 0; s < 4; ++s) {
      const int64_t channels = 64 << s, stride = s == 0 ? 1 : 2;
      auto stage = register_module("layer" + std::to_string(s + 1), std::make_shared<nn::Sequential>());
      for (int b = 0; b < blocks_per_stage[s]; ++b) {
        stage->add(std::make_shared<BasicBlock>(in_channels, channels, b == 0 ? stride : 1, init));
        in_channels = channels;
      }
      stages[s] = stage;
    }
    linear = register_module("linear", std::make_shared<nn::Linear>(512, 10, true, init));
  }
  Tensor forward(const Tensor& x) override {
    Tensor out = relu(bn1->forward(conv1->forward(x)));          // [B, 64, 32, 32]
    for (const auto& stage : stages) out = stage->forward(out);  // -> [B, 512, 4, 4]
    return linear->forward(avg_pool2d(out, 4, 4).flatten(1));
  }

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::array<std::shared_ptr<nn::Sequential>, 4> stages;
  std::shared_ptr<nn::Linear> linear;
};

}  // namespace

std::shared_ptr<nn::Module> make_resnet(const std::array<int, 4>& blocks_per_stage, uint64_t seed,
                                        int64_t in_channels) {
  return std::make_shared<ResNet>(blocks_per_stage, seed, in_channels);
}

}  // namespace ember::models
