// One training step of each of the study's seven models on CUDA against the same step on the CPU: the same
// initial weights (same seed), the same batch, the same dropout masks (each Dropout's generator comes from the
// seed, and both devices draw Philox alike), then logits, loss, every parameter's gradient and the weights
// after an SGD step (momentum 0.9; its update is lr * gradient, so a gradient error is not hidden the way
// Adam's normalised step would hide it). fp32 maths on the GPU (no TF32): the devices differ only in the order
// of their sums.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/optim/optimizer.h"
#include "engine/precision.h"
#include "models/registry.h"
#include "tests/testing.h"

using namespace ember;

namespace {

constexpr int64_t kBatch = 8;
constexpr uint64_t kSeed = 11;

struct StepResult {
  Tensor logits, loss;
  nn::NamedTensors grads, weights;
};

StepResult train_step(const std::string& name, Device device) {
  std::shared_ptr<nn::Module> model = models::build_model(name, kSeed);
  model->to(device);
  model->train(true);
  optim::SGD optimizer(model->parameters(), 0.05, 0.9);
  const Tensor x = testing::random_tensor({kBatch, 3, 32, 32}, 900, DType::f32).to(device);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < kBatch; ++i) labels.push_back((i * 3 + 1) % 10);
  const Tensor y = Tensor::from_vector<int64_t>(labels, {kBatch}).to(device);
  StepResult r;
  optimizer.zero_grad();
  r.logits = (*model)(x);
  r.loss = cross_entropy(r.logits, y);
  r.loss.backward();
  for (const auto& [key, p] : model->named_parameters()) {
    INFO(name << " " << key);
    REQUIRE(p.grad().defined());  // every parameter takes part in the step
    r.grads.push_back({key, p.grad().to(Device::cpu())});
  }
  optimizer.step();
  for (const auto& [key, t] : model->state_dict()) r.weights.push_back({key, t.to(Device::cpu())});
  r.logits = r.logits.detach().to(Device::cpu());
  r.loss = r.loss.detach().to(Device::cpu());
  return r;
}

// |a - b| <= tol * max|b| + 1e-6 elementwise: relative to the tensor's scale, since a gradient's small entries
// are sums that cancel and carry the same absolute error as its large ones.
void require_close_to_scale(const Tensor& a, const Tensor& b, double tol, const std::string& what) {
  INFO(what << " " << a.describe());
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  double scale = 0, worst = 0;
  for (double v : vb) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::fabs(va[i] - vb[i]));
  INFO("max |difference| " << worst << ", max |reference| " << scale);
  CHECK(worst <= tol * scale + 1e-6);
}

// A gradient: within 2e-3 of the reference in L2 norm, and every element within 2e-2 of its scale. A ReLU input
// or max-pool tie within rounding of its threshold may flip between the devices and move one entry of a
// sum of a few hundred terms by ~1% of the maximum; a wrong kernel is far outside both bounds.
void require_gradient_close(const Tensor& a, const Tensor& b, const std::string& what) {
  INFO(what << " " << a.describe());
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  double diff2 = 0, ref2 = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    diff2 += (va[i] - vb[i]) * (va[i] - vb[i]);
    ref2 += vb[i] * vb[i];
  }
  INFO("|difference| " << std::sqrt(diff2) << ", |reference| " << std::sqrt(ref2));
  CHECK(std::sqrt(diff2) <= 2e-3 * std::sqrt(ref2) + 1e-6);
  require_close_to_scale(a, b, 2e-2, what);
}

}  // namespace

TEST_CASE("a training step of each model on CUDA matches the CPU step", "[gpu][models]") {
  testing::require_gpu();
  PrecisionGuard fp32(Precision::fp32);
  for (const std::string& name : models::model_names()) {
    INFO("model " << name);
    const StepResult cpu = train_step(name, Device::cpu()), gpu = train_step(name, Device::cuda(0));
    // cuDNN may pick Winograd or FFT convolutions, which round differently from a direct sum (~1e-4 a layer).
    require_close_to_scale(gpu.logits, cpu.logits, 1e-3, "logits");
    require_close_to_scale(gpu.loss, cpu.loss, 1e-4, "loss");
    REQUIRE(gpu.grads.size() == cpu.grads.size());
    for (size_t i = 0; i < cpu.grads.size(); ++i) {
      REQUIRE(gpu.grads[i].first == cpu.grads[i].first);
      require_gradient_close(gpu.grads[i].second, cpu.grads[i].second, "gradient of " + cpu.grads[i].first);
    }
    REQUIRE(gpu.weights.size() == cpu.weights.size());
    for (size_t i = 0; i < cpu.weights.size(); ++i)  // parameters after the step, and BatchNorm's running stats
      require_close_to_scale(gpu.weights[i].second.to(DType::f64), cpu.weights[i].second.to(DType::f64), 1e-4,
                             cpu.weights[i].first + " after the step");
  }
}

TEST_CASE("a bf16 training step of each model on CUDA follows the CPU's bf16 step", "[gpu][models][bf16]") {
  // Both devices keep the convnets' activations in bf16 and round them at the same places; CUDA also rounds
  // every GEMM/conv operand to bf16 (the CPU's convolutions only where it has bf16 instructions, its GEMMs
  // never). Each side's rounding grows going back through the layers: against f32, a deep ResNet's first-layer
  // gradient keeps a cosine of ~0.8 (tests/cpu/test_bf16_activations.cpp), so two bf16 runs may share less.
  // The check is therefore on the loss, the logits, the last layer's gradient and all gradients together (a
  // wrong kernel gives ~0 there); the figures are printed for the record.
  testing::require_gpu();
  PrecisionGuard bf16(Precision::bf16);
  using testing::cosine_similarity;
  for (const std::string& name : models::model_names()) {
    INFO("model " << name);
    const StepResult cpu = train_step(name, Device::cpu()), gpu = train_step(name, Device::cuda(0));
    require_close_to_scale(gpu.logits, cpu.logits, 5e-2, "logits");
    require_close_to_scale(gpu.loss, cpu.loss, 2e-2, "loss");
    REQUIRE(gpu.grads.size() == cpu.grads.size());
    std::vector<Tensor> all_gpu, all_cpu;
    for (size_t i = 0; i < cpu.grads.size(); ++i) {
      REQUIRE(gpu.grads[i].second.dtype() == DType::f32);
      all_gpu.push_back(gpu.grads[i].second.flatten());
      all_cpu.push_back(cpu.grads[i].second.flatten());
    }
    const double first = cosine_similarity(gpu.grads.front().second, cpu.grads.front().second);
    const double last = cosine_similarity(gpu.grads.back().second, cpu.grads.back().second);
    const double all = cosine_similarity(cat(all_gpu, 0), cat(all_cpu, 0));
    std::printf("bf16 step, CUDA vs CPU, %s: gradient cosine first %.4f last %.4f all %.4f\n", name.c_str(), first,
                last, all);
    CHECK(last > 0.9);
    CHECK(all > 0.5);
  }
}
