#include "models/context_fovea.h"

#include "base/error.h"
#include "engine/nn/activation.h"
#include "engine/nn/containers.h"
#include "engine/nn/linear.h"
#include "engine/ops.h"
#include "models/cnn.h"

namespace ember::models {

namespace {

class ContextFoveaCnn : public nn::Module {
 public:
  ContextFoveaCnn(uint64_t seed, int64_t channels, int64_t height, int64_t width) {
    EMBER_CHECK(height % 16 == 0 && width % 16 == 0 && height > 0 && width > 0,
                "CNN_context_fovea needs a height and width that are multiples of 16 (each stream halves them, then "
                "pools 3 times); these images are ",
                height, "x", width);
    Generator init(seed, RandomPurpose::init);
    context = register_module("context", std::make_shared<nn::Sequential>());
    fovea = register_module("fovea", std::make_shared<nn::Sequential>());
    append_cnn_features(*context, channels, init);
    append_cnn_features(*fovea, channels, init);
    classifier = register_module("classifier", std::make_shared<nn::Sequential>());
    classifier->add(std::make_shared<nn::Linear>(2 * 256 * (height / 16) * (width / 16), 1024, true, init));
    classifier->add(std::make_shared<nn::ReLU>());
    classifier->add(std::make_shared<nn::Linear>(1024, 512, true, init));
    classifier->add(std::make_shared<nn::ReLU>());
    classifier->add(std::make_shared<nn::Linear>(512, 10, true, init));
  }

  Tensor forward(const Tensor& x) override {
    EMBER_CHECK(x.dim() == 4, "CNN_context_fovea: expected images [B, C, H, W], got ", x.describe());
    const int64_t h = x.size(2), w = x.size(3);
    const Tensor low_res = avg_pool2d(x, 2, 2);
    const Tensor centre = x.narrow(2, h / 4, h / 2).narrow(3, w / 4, w / 2);
    const int64_t batch = x.size(0);
    const Tensor fused =
        cat({context->forward(low_res).reshape({batch, -1}), fovea->forward(centre).reshape({batch, -1})}, 1);
    return classifier->forward(fused);
  }

  std::shared_ptr<nn::Sequential> context, fovea, classifier;
};

}  // namespace

std::shared_ptr<nn::Module> make_context_fovea_cnn(uint64_t seed, int64_t channels, int64_t height, int64_t width) {
  return std::make_shared<ContextFoveaCnn>(seed, channels, height, width);
}

}  // namespace ember::models
