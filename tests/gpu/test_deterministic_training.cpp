// Deterministic GPU training (architecture.md "Determinism"): with set_deterministic_algorithms(true) two
// runs of the same steps from the same seed end with bit-identical parameters and BatchNorm running
// statistics. Models: the study's CNN and a small conv -> batch norm -> relu -> linear net; 3 Adam steps on
// fixed synthetic batches (a training run's forward, loss, backward, optimizer step).
#include <functional>

#include "engine/nn/activation.h"
#include "engine/nn/batchnorm.h"
#include "engine/nn/containers.h"
#include "engine/nn/conv2d.h"
#include "engine/nn/flatten.h"
#include "engine/nn/linear.h"
#include "engine/optim/optimizer.h"
#include "engine/precision.h"
#include "models/registry.h"
#include "tests/testing.h"

using namespace ember;

namespace {

constexpr int64_t kBatch = 8, kSteps = 3;

std::shared_ptr<nn::Module> bn_net(uint64_t seed) {
  Generator init(seed, RandomPurpose::init);
  auto net = std::make_shared<nn::Sequential>();
  net->add(std::make_shared<nn::Conv2d>(3, 8, 3, 1, 1, true, init));
  net->add(std::make_shared<nn::BatchNorm2d>(8));
  net->add(std::make_shared<nn::ReLU>());
  net->add(std::make_shared<nn::Flatten>());
  net->add(std::make_shared<nn::Linear>(8 * 32 * 32, 10, true, init));
  return net;
}

// The model's state after kSteps on CIFAR-shaped batches [8, 3, 32, 32], on the host.
std::vector<std::vector<float>> train_on_gpu(const std::function<std::shared_ptr<nn::Module>()>& make) {
  std::shared_ptr<nn::Module> model = make();
  model->to(Device::cuda(0));
  model->train(true);
  optim::Adam optimizer(model->parameters(), 1e-3);
  for (int64_t step = 0; step < kSteps; ++step) {
    const Tensor x = testing::random_tensor({kBatch, 3, 32, 32}, 700 + step, DType::f32).to(Device::cuda(0));
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < kBatch; ++i) labels.push_back((step * 7 + i * 3) % 10);
    const Tensor y = Tensor::from_vector<int64_t>(labels, {kBatch}).to(Device::cuda(0));
    optimizer.zero_grad();
    cross_entropy((*model)(x), y).backward();
    optimizer.step();
  }
  std::vector<std::vector<float>> state;
  for (const auto& [name, t] : model->state_dict())
    state.push_back(t.to(Device::cpu()).to(DType::f32).to_vector<float>());
  return state;
}

}  // namespace

TEST_CASE("gpu: two deterministic training runs end bit-identical", "[gpu][deterministic]") {
  testing::require_gpu();
  const bool previous = deterministic_algorithms();
  set_deterministic_algorithms(true);
  const std::vector<std::pair<std::string, std::function<std::shared_ptr<nn::Module>()>>> nets = {
      {"CNN", [] { return models::build_model("CNN", 5); }}, {"conv-bn-relu-linear", [] { return bn_net(5); }}};
  for (const auto& [name, make] : nets) {
    INFO(name);
    const auto first = train_on_gpu(make), second = train_on_gpu(make);
    REQUIRE(first.size() == second.size());
    for (size_t i = 0; i < first.size(); ++i) {
      INFO("state tensor " << i);
      CHECK(first[i] == second[i]);
    }
    // The steps changed the weights (equal untrained models would pass the check above too).
    std::vector<std::vector<float>> initial;
    for (const auto& [tensor_name, t] : make()->state_dict()) initial.push_back(t.to(DType::f32).to_vector<float>());
    CHECK(first != initial);
  }
  set_deterministic_algorithms(previous);
}
