// CUDA graphs on the GPU (engine/cuda_graph.h, engine/nn/graphed_step.h): a captured computation replays with
// new inputs exactly as it runs without a graph; its memory is never handed out to anything else; what cannot
// be captured is refused and leaves the engine usable; dropout under a graph draws the masks the same calls
// draw without one; training steps through nn::GraphedStep end bit-identical to ordinary steps, for a model
// without and with batch norm, one with dropout, and in bf16; and `ember train --cuda_graph` prints the figures
// of the same run without it.
#include <cmath>
#include <filesystem>
#include <memory>
#include <sstream>

#include "engine/cuda/allocator.h"
#include "engine/cuda_graph.h"
#include "engine/nn/graphed_step.h"
#include "engine/ops.h"
#include "engine/optim/optimizer.h"
#include "engine/precision.h"
#include "models/registry.h"
#include "tests/testing.h"
#include "tests/train_testing.h"
#include "tools/trainer.h"

using namespace ember;
using ember::testing::random_tensor;

namespace {

const Device kCuda = Device::cuda(0);

std::vector<float> host_values(const Tensor& t) { return t.to(Device::cpu()).to(DType::f32).to_vector<float>(); }

Tensor affine_relu(const Tensor& x) { return relu(add_scalar(mul_scalar(x, 2.0), -0.25)); }

// The loss of the graphed steps below (cross_entropy's options left at their defaults).
Tensor loss_fn(const Tensor& logits, const Tensor& targets) { return cross_entropy(logits, targets); }

}  // namespace

TEST_CASE("gpu: a captured computation replays with new inputs as it runs without a graph", "[gpu][cuda_graph]") {
  testing::require_gpu();
  Tensor x = random_tensor({1000}, 1, DType::f32).to(kCuda);
  Tensor y;
  CudaGraph graph;
  CHECK_FALSE(graph.captured());
  graph.capture([&] { y = affine_relu(x); });
  REQUIRE(graph.captured());
  CHECK(CudaGraph::capturing() == nullptr);
  for (uint64_t round = 0; round < 3; ++round) {
    const Tensor host = random_tensor({1000}, 10 + round, DType::f32);
    x.copy_(host);
    graph.replay();
    CHECK(host_values(y) == host_values(affine_relu(host.to(kCuda))));
  }
}

TEST_CASE("gpu: a graph's memory is never handed out, even blocks its capture freed", "[gpu][cuda_graph]") {
  testing::require_gpu();
  const int64_t n = 1 << 16;
  Tensor x = Tensor::full({n}, 0.5, DType::f32, kCuda);
  Tensor out;
  CudaGraph graph;
  graph.capture([&] {
    const Tensor a = mul_scalar(x, 3.0);  // a and b are freed inside the capture: their blocks stay the graph's
    const Tensor b = add_scalar(a, 1.0);
    out = mul(b, b);
  });
  std::vector<Tensor> others;  // ordinary tensors of the same sizes, made after the capture
  for (int i = 0; i < 16; ++i) others.push_back(Tensor::full({n}, 5.0, DType::f32, kCuda));
  graph.replay();
  graph.replay();
  for (const Tensor& t : others) CHECK(host_values(t) == std::vector<float>(n, 5.f));
  CHECK(host_values(out) == std::vector<float>(n, 6.25f));  // (3 * 0.5 + 1)^2
}

TEST_CASE("gpu: what a graph cannot hold is refused, and the engine stays usable", "[gpu][cuda_graph]") {
  testing::require_gpu();
  const Tensor x = Tensor::full({64}, 2.0, DType::f32, kCuda);
  CudaGraph graph;
  CHECK_THROWS_WITH(graph.capture([&] { (void)mul_scalar(x, 2.0).to(Device::cpu()); }),
                    Catch::Contains("CUDA graph capture failed") && Catch::Contains("cannot be captured"));
  CHECK_THROWS_WITH(graph.capture([&] { (void)add(x, Tensor::ones({64})); }),
                    Catch::Contains("CUDA graph capture failed"));
  CHECK_FALSE(graph.captured());
  CHECK_THROWS_WITH(graph.replay(), Catch::Contains("nothing captured"));
  CHECK(CudaGraph::capturing() == nullptr);
  // Ordinary work and a new capture both still work.
  CHECK(host_values(mul_scalar(x, 2.0)) == std::vector<float>(64, 4.f));
  Tensor y;
  graph.capture([&] { y = mul_scalar(x, 3.0); });
  graph.replay();
  CHECK(host_values(y) == std::vector<float>(64, 6.f));
  CHECK_THROWS_WITH(graph.capture([&] {
    CudaGraph inner;
    inner.capture([] {});
  }),
                    Catch::Contains("captures do not nest"));
}

TEST_CASE("gpu: dropout under a graph draws the masks the same calls draw without one", "[gpu][cuda_graph]") {
  testing::require_gpu();
  const Tensor x = random_tensor({1001}, 3, DType::f32).to(kCuda);  // not a multiple of 4
  Generator graphed(11, RandomPurpose::dropout), plain(11, RandomPurpose::dropout);
  graphed.set_offset(6), plain.set_offset(6);  // an unaligned start, as after other draws
  Tensor y;
  CudaGraph graph;
  graph.capture([&] { y = dropout(x, 0.3, true, graphed); });
  for (int round = 0; round < 4; ++round) {
    graph.replay();
    const Tensor want = dropout(x, 0.3, true, plain);
    CHECK(host_values(y) == host_values(want));
    CHECK(graphed.offset() == plain.offset());
  }
}

namespace {

struct TrainedState {
  std::vector<double> losses;
  std::vector<std::vector<float>> state;  // state_dict, on the host
  std::vector<uint64_t> rng;              // dropout generators' offsets
};

// kSteps Adam steps of `model_name` on synthetic batches. graphed: the first ordinary (cuDNN's algorithm search),
// then nn::GraphedStep, except step kShortStep: an ordinary step on half a batch between two replays (the
// trainer's short last batch), after which run() must point the parameters at the graph's gradients again.
TrainedState train_steps(const std::string& model_name, bool graphed, int64_t full_batch) {
  constexpr int kSteps = 5, kShortStep = 3;
  std::shared_ptr<nn::Module> model = models::build_model(model_name, 5, {3, 32, 32});
  model->to(kCuda);
  model->train(true);
  optim::Adam optimizer(model->parameters(), 1e-3);
  std::unique_ptr<nn::GraphedStep> step_graph;
  TrainedState out;
  for (int step = 0; step < kSteps; ++step) {
    const int64_t batch = step == kShortStep ? full_batch / 2 : full_batch;
    const Tensor x = random_tensor({batch, 3, 32, 32}, 900 + step, DType::f32).to(kCuda);
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < batch; ++i) labels.push_back((step * 3 + i * 7) % 10);
    const Tensor y = Tensor::from_vector<int64_t>(labels, {batch}).to(kCuda);
    Tensor loss;
    if (!graphed || step == 0 || step == kShortStep) {
      optimizer.zero_grad();
      loss = loss_fn((*model)(x), y);
      loss.backward();
    } else if (!step_graph) {
      step_graph = std::make_unique<nn::GraphedStep>(*model, loss_fn, x, y);
      loss = step_graph->loss();
    } else {
      step_graph->run(x, y);
      loss = step_graph->loss();
    }
    out.losses.push_back(loss.item());
    optimizer.step();
  }
  for (const auto& [name, t] : model->state_dict()) out.state.push_back(host_values(t));
  out.rng = model->rng_state();
  return out;
}

}  // namespace

TEST_CASE("gpu: training steps through GraphedStep end bit-identical to ordinary steps", "[gpu][cuda_graph][models]") {
  testing::require_gpu();
  const bool was_deterministic = deterministic_algorithms();
  set_deterministic_algorithms(true);
  struct Case {
    const char* model;
    Precision precision;
  };
  // CNN: convolutions and linears; ResNet_18: batch norm (running statistics updated by the replays);
  // ViT_tiny: layer norm, attention and dropout; ResNet_18 in bf16: bf16 activations.
  for (const Case& c : {Case{"CNN", Precision::tf32}, Case{"ResNet_18", Precision::fp32},
                        Case{"ViT_tiny", Precision::fp32}, Case{"ResNet_18", Precision::bf16}}) {
    PrecisionGuard precision(c.precision);
    INFO(c.model << " at " << precision_name(c.precision));
    const TrainedState plain = train_steps(c.model, false, 8);
    const TrainedState graphed = train_steps(c.model, true, 8);
    CHECK(graphed.losses == plain.losses);
    CHECK(graphed.rng == plain.rng);
    REQUIRE(graphed.state.size() == plain.state.size());
    for (size_t i = 0; i < plain.state.size(); ++i) {
      INFO("state tensor " << i);
      CHECK(graphed.state[i] == plain.state[i]);
    }
  }
  set_deterministic_algorithms(was_deterministic);
}

TEST_CASE("gpu: GraphedStep refuses another batch shape, a model in eval mode, and a failed capture leaves nothing",
          "[gpu][cuda_graph]") {
  testing::require_gpu();
  std::shared_ptr<nn::Module> model = models::build_model("CNN", 1, {3, 32, 32});
  model->to(kCuda);
  const Tensor x = random_tensor({4, 3, 32, 32}, 1, DType::f32).to(kCuda);
  const Tensor y = Tensor::from_vector<int64_t>({1, 2, 3, 4}, {4}).to(kCuda);
  {  // one ordinary step first: cuDNN's algorithm search for these shapes
    cross_entropy((*model)(x), y).backward();
    model->zero_grad();
  }
  model->eval();
  CHECK_THROWS_WITH(nn::GraphedStep(*model, loss_fn, x, y), Catch::Contains("training mode"));
  model->train(true);
  // A capture that fails (here: a read-back in the loss) leaves no gradients and the generators where they were.
  std::shared_ptr<nn::Module> vit = models::build_model("ViT_tiny", 1, {3, 32, 32});
  vit->to(kCuda);
  vit->train(true);
  cross_entropy((*vit)(x), y).backward();  // an ordinary step first, as for any capture
  vit->zero_grad();
  const std::vector<uint64_t> rng = vit->rng_state();
  const auto reading_loss = [](const Tensor& logits, const Tensor& targets) {
    (void)logits.to(Device::cpu());
    return cross_entropy(logits, targets);
  };
  CHECK_THROWS_WITH(nn::GraphedStep(*vit, reading_loss, x, y), Catch::Contains("cannot be captured"));
  CHECK(vit->rng_state() == rng);
  for (const Tensor& p : vit->parameters()) CHECK_FALSE(p.grad().defined());

  nn::GraphedStep step(*model, loss_fn, x, y);
  const Tensor x2 = random_tensor({2, 3, 32, 32}, 2, DType::f32).to(kCuda);
  const Tensor y2 = Tensor::from_vector<int64_t>({1, 2}, {2}).to(kCuda);
  CHECK_FALSE(step.accepts(x2, y2));
  CHECK_THROWS_WITH(step.run(x2, y2), Catch::Contains("captured for inputs"));
  CHECK(step.accepts(x, y));
  step.run(x, y);
  CHECK(std::isfinite(step.loss().item()));
}

TEST_CASE("gpu: a destroyed GraphedStep takes its gradients along and its pool gives memory back",
          "[gpu][cuda_graph]") {
  testing::require_gpu();
  std::shared_ptr<nn::Module> model = models::build_model("CNN", 2, {3, 32, 32});
  model->to(kCuda);
  const Tensor x = random_tensor({4, 3, 32, 32}, 3, DType::f32).to(kCuda);
  const Tensor y = Tensor::from_vector<int64_t>({0, 1, 2, 3}, {4}).to(kCuda);
  cross_entropy((*model)(x), y).backward();
  const int64_t pools_before = static_cast<int64_t>(cuda::graph_pools_reserved_bytes());
  {
    nn::GraphedStep step(*model, loss_fn, x, y);
    CHECK(static_cast<int64_t>(cuda::graph_pools_reserved_bytes()) > pools_before);
    for (const Tensor& p : model->parameters()) CHECK(p.grad().defined());
  }
  for (const Tensor& p : model->parameters()) CHECK_FALSE(p.grad().defined());
  CHECK(static_cast<int64_t>(cuda::graph_pools_reserved_bytes()) == pools_before);
}

TEST_CASE("gpu: ember train --cuda_graph gives the figures of the same run without it", "[gpu][cuda_graph][models]") {
  testing::require_gpu();
  for (const char* model : {"CNN", "ViT_tiny"}) {
    PrecisionGuard restore(precision());  // train() sets the process-wide setting
    tools::TrainConfig c = testing::tiny_config(std::string("graph_") + model);
    // gpu_check runs this binary on another machine, in the repository: the shipped sample from the working
    // directory then, and results under the temporary directory.
    if (!std::filesystem::exists(c.data_dir)) c.data_dir = "data/samples/cifar-10";
    if (!std::filesystem::exists(EMBER_BINARY_DIR))
      c.out_dir = (std::filesystem::temp_directory_path() / "ember_gpu_test_results").string();
    c.model = model;
    c.device = "cuda";
    c.subset = 150;  // 120 to train: three batches of 32 and a short one of 24, which runs without the graph
    std::ostringstream plain_log, graph_log;
    const tools::TrainResult plain = tools::train(c, plain_log);
    c.cuda_graph = true;
    const tools::TrainResult graphed = tools::train(c, graph_log);
    INFO(model << "\n" << graph_log.str());
    CHECK(graph_log.str().find("cuda_graph: captured the training step for batches of 32") != std::string::npos);
    REQUIRE(graphed.history.size() == plain.history.size());
    for (size_t e = 0; e < plain.history.size(); ++e) {
      CHECK(graphed.history[e].train_loss == plain.history[e].train_loss);
      CHECK(graphed.history[e].train_acc == plain.history[e].train_acc);
      CHECK(graphed.history[e].val_loss == plain.history[e].val_loss);
      CHECK(graphed.history[e].val_acc == plain.history[e].val_acc);
    }
  }
}
