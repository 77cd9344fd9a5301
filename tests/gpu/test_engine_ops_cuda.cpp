// The engine ops whose CUDA branches run the memory-bound kernels, each through the engine on cuda:0 against
// the same op on the CPU (the reference backend): forward values and the gradients of sum(out * w) for every
// input, plus in-place effects (running statistics, optimizer steps).
#include <functional>

#include "engine/optim/optimizer.h"
#include "tests/gpu/compare_with_cpu.h"
#include "tests/testing.h"

using namespace ember;
using ember::testing::random_tensor;
using ember::testing::require_gpu;

namespace {

const Device kGpu = Device::cuda(0);
using Op = testing::DeviceOp;

// Outputs within rtol/atol, gradients of sum(f * w) within ten times that (tests/gpu/compare_with_cpu.h).
void compare_on_cuda(const Op& f, const std::vector<Tensor>& inputs, double rtol, double atol) {
  testing::compare_with_cpu(f, inputs, {"engine op", {rtol, atol}, {rtol * 10, atol * 10}, 424242, std::nullopt});
}

Tensor f32(const Shape& s, uint64_t seed, double lo = -1, double hi = 1) {
  return random_tensor(s, seed, DType::f32, lo, hi);
}

}  // namespace

TEST_CASE("cuda engine: softmax and log_softmax along any dim", "[gpu][engine_cuda]") {
  require_gpu();
  for (int64_t dim : {-1, 0, 1}) {
    INFO("dim " << dim);
    compare_on_cuda([dim](const std::vector<Tensor>& x, Device) { return softmax(x[0], dim); },
                    {f32({6, 5, 12}, 1, -4, 4)}, 1e-5, 1e-6);
    compare_on_cuda([dim](const std::vector<Tensor>& x, Device) { return log_softmax(x[0], dim); },
                    {f32({6, 5, 12}, 2, -4, 4)}, 1e-5, 1e-6);
  }
}

TEST_CASE("cuda engine: the DCGAN's composed leaky_relu and binary_cross_entropy_with_logits", "[gpu][engine_cuda]") {
  require_gpu();
  compare_on_cuda([](const std::vector<Tensor>& x, Device) { return leaky_relu(x[0], 0.2); }, {f32({4, 33}, 50, -2, 2)},
                  1e-6, 1e-7);
  compare_on_cuda([](const std::vector<Tensor>& x, Device) { return binary_cross_entropy_with_logits(x[0], x[1]); },
                  {f32({5, 7}, 51, -6, 6), f32({5, 7}, 52, 0, 1)}, 1e-5, 1e-6);
}

TEST_CASE("cuda engine: cross_entropy with weights, smoothing and every reduction", "[gpu][engine_cuda]") {
  require_gpu();
  const Tensor targets = Tensor::from_vector<int64_t>({3, 0, 9, 9, 1, 4, 7}, {7});
  const Tensor weights = f32({10}, 3, 0.2, 2.0);
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
    for (bool weighted : {false, true}) {
      INFO("reduction " << int(r) << " weighted " << weighted);
      compare_on_cuda(
          [&](const std::vector<Tensor>& x, Device d) {
            CrossEntropyOptions o;
            o.reduction = r;
            o.label_smoothing = weighted ? 0.1 : 0.0;
            if (weighted) o.class_weights = weights.to(d);
            return cross_entropy(x[0], targets.to(d), o);
          },
          {f32({7, 10}, 4, -3, 3)}, 1e-5, 1e-6);
    }
  }
}

TEST_CASE("cuda engine: layer_norm with and without affine parameters", "[gpu][engine_cuda]") {
  require_gpu();
  compare_on_cuda([](const std::vector<Tensor>& x, Device) { return layer_norm(x[0], x[1], x[2], 1e-5); },
                  {f32({4, 3, 64}, 5, 1, 3), f32({64}, 6, 0.5, 1.5), f32({64}, 7)}, 1e-4, 1e-5);
  compare_on_cuda([](const std::vector<Tensor>& x, Device) { return layer_norm(x[0], Tensor(), Tensor(), 1e-5); },
                  {f32({9, 37}, 8)}, 1e-4, 1e-5);
}

TEST_CASE("cuda engine: dropout draws the CPU's mask", "[gpu][engine_cuda]") {
  require_gpu();
  compare_on_cuda(
      [](const std::vector<Tensor>& x, Device) {
        Generator gen(11, RandomPurpose::dropout);
        gen.set_offset(123);
        return dropout(x[0], 0.4, true, gen);
      },
      {f32({33, 65}, 9)}, 0, 0);
}

TEST_CASE("cuda engine: batch_norm in training (running statistics) and eval", "[gpu][engine_cuda]") {
  require_gpu();
  const Tensor rm0 = f32({5}, 10), rv0 = f32({5}, 11, 0.5, 2);
  for (bool training : {true, false}) {
    INFO("training " << training);
    Tensor rm_cpu = rm0.clone(), rv_cpu = rv0.clone(), rm_gpu = rm0.to(kGpu), rv_gpu = rv0.to(kGpu);
    compare_on_cuda(
        [&](const std::vector<Tensor>& x, Device d) {
          const bool gpu = d.is_cuda();
          return batch_norm(x[0], x[1], x[2], gpu ? rm_gpu : rm_cpu, gpu ? rv_gpu : rv_cpu, training, 0.1, 1e-5);
        },
        {f32({6, 5, 4, 3}, 12, 2, 4), f32({5}, 13, 0.5, 1.5), f32({5}, 14)}, 1e-4, 1e-5);
    EMBER_REQUIRE_CLOSE(rm_gpu.to(Device::cpu()), rm_cpu, 1e-5, 1e-6);
    EMBER_REQUIRE_CLOSE(rv_gpu.to(Device::cpu()), rv_cpu, 1e-5, 1e-6);
  }
}

// Synchronized batch norm's split kernels (statistics, apply, backward sums, dx): a reduce that doubles the
// sums (two ranks holding the same data) on both devices; the reduce sees a device tensor on the GPU.
TEST_CASE("cuda engine: synchronized batch_norm (a reduce given) matches the CPU", "[gpu][engine_cuda][sync_bn]") {
  require_gpu();
  int calls = 0;
  const BatchNormReduce two_ranks = [&calls](Tensor& t) {
    ++calls;
    t.copy_(mul_scalar(t.to(Device::cpu()), 2.0).to(t.device()));
  };
  Tensor rm_cpu = f32({5}, 30), rv_cpu = f32({5}, 31, 0.5, 2);
  Tensor rm_gpu = rm_cpu.to(kGpu), rv_gpu = rv_cpu.to(kGpu);
  compare_on_cuda(
      [&](const std::vector<Tensor>& x, Device d) {
        const bool gpu = d.is_cuda();
        return batch_norm(x[0], x[1], x[2], gpu ? rm_gpu : rm_cpu, gpu ? rv_gpu : rv_cpu, true, 0.1, 1e-5, two_ranks);
      },
      {f32({6, 5, 4, 3}, 32, 48, 52), f32({5}, 33, 0.5, 1.5), f32({5}, 34)}, 1e-4, 1e-5);
  CHECK(calls == 4);  // forward and backward, on each device
  EMBER_REQUIRE_CLOSE(rm_gpu.to(Device::cpu()), rm_cpu, 1e-5, 1e-6);
  EMBER_REQUIRE_CLOSE(rv_gpu.to(Device::cpu()), rv_cpu, 1e-5, 1e-6);
}

TEST_CASE("cuda engine: scaled_dot_product_attention, fused (dh 64) and unfused (dh 32)", "[gpu][engine_cuda]") {
  require_gpu();
  // The ViTs' 65 tokens with the fused kernels, plain scale and LSA (learned log-scale, masked diagonal); then a
  // head size the kernels do not take, which runs unfused on CUDA and must still equal the CPU.
  for (int64_t dh : {64, 32}) {
    const Shape s{2, 3, 65, dh};
    INFO("dh " << dh);
    compare_on_cuda(
        [](const std::vector<Tensor>& x, Device) { return scaled_dot_product_attention(x[0], x[1], x[2], 0.125); },
        {f32(s, 11), f32(s, 12), f32(s, 13)}, 1e-4, 1e-5);
    compare_on_cuda([](const std::vector<Tensor>& x,
                       Device) { return scaled_dot_product_attention(x[0], x[1], x[2], 0.0, x[3], true); },
                    {f32(s, 14), f32(s, 15), f32(s, 16), Tensor::scalar(-1.7)}, 1e-4, 1e-5);
  }
}

TEST_CASE("cuda engine: bias_activation (conv and linear layouts, every activation)", "[gpu][engine_cuda]") {
  require_gpu();
  for (Activation act : {Activation::none, Activation::relu, Activation::gelu}) {
    INFO("activation " << int(act));
    compare_on_cuda([act](const std::vector<Tensor>& x, Device) { return bias_activation(x[0], x[1], act, 1); },
                    {f32({8, 16, 6, 6}, 21, -2, 2), f32({16}, 22)}, 1e-5, 1e-5);
    compare_on_cuda([act](const std::vector<Tensor>& x, Device) { return bias_activation(x[0], x[1], act, -1); },
                    {f32({4, 65, 96}, 23, -2, 2), f32({96}, 24)}, 1e-5, 1e-5);
  }
}

TEST_CASE("cuda engine: max, average and adaptive average pooling", "[gpu][engine_cuda]") {
  require_gpu();
  compare_on_cuda([](const std::vector<Tensor>& x, Device) { return max_pool2d(x[0], 3, 2, 1); },
                  {f32({2, 3, 9, 8}, 15)}, 0, 0);
  compare_on_cuda([](const std::vector<Tensor>& x, Device) { return max_pool2d(x[0], 2, 2, 0); },
                  {f32({2, 3, 8, 8}, 16)}, 0, 0);
  compare_on_cuda([](const std::vector<Tensor>& x, Device) { return avg_pool2d(x[0], 3, 1, 1); },
                  {f32({2, 3, 7, 5}, 17)}, 1e-6, 1e-7);
  compare_on_cuda([](const std::vector<Tensor>& x, Device) { return adaptive_avg_pool2d(x[0], 3, 1); },
                  {f32({2, 3, 7, 5}, 18)}, 1e-6, 1e-7);
}

TEST_CASE("cuda engine: SGD, Adam and AdamW steps equal the CPU's bit for bit", "[gpu][engine_cuda]") {
  require_gpu();
  for (int kind = 0; kind < 4; ++kind) {
    INFO("optimizer " << kind);
    std::vector<Tensor> cpu, gpu;
    for (int64_t n : {int64_t{3}, int64_t{1000}, int64_t{40000}}) {
      const Tensor p = f32({n}, 20 + n);
      cpu.push_back(p.clone().requires_grad_());
      gpu.push_back(p.to(kGpu).detach().requires_grad_());
    }
    auto make = [kind](std::vector<Tensor> params) -> std::unique_ptr<optim::Optimizer> {
      switch (kind) {
        case 0:
          return std::make_unique<optim::SGD>(params, 0.1, 0.9, 5e-4, true);
        case 1:
          return std::make_unique<optim::SGD>(params, 0.1);
        case 2:
          return std::make_unique<optim::Adam>(params, 1e-3, 0.9, 0.999, 1e-8, 1e-4);
        default:
          return std::make_unique<optim::AdamW>(params, 1e-3);
      }
    };
    auto opt_cpu = make(cpu), opt_gpu = make(gpu);
    for (int step = 0; step < 3; ++step) {
      for (size_t i = 0; i < cpu.size(); ++i) {
        const Tensor g = f32(cpu[i].shape(), 100 * step + i);
        cpu[i].set_grad(g);
        gpu[i].set_grad(g.to(kGpu));
      }
      opt_cpu->step();
      opt_gpu->step();
    }
    for (size_t i = 0; i < cpu.size(); ++i)
      CHECK(gpu[i].to(Device::cpu()).to_vector<float>() == cpu[i].to_vector<float>());
  }
}
