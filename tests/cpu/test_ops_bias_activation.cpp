// bias_activation against the bias add and activation it fuses (forward and gradients), by finite
// differences, and Sequential's fusion of a biased Conv2d/Linear with the ReLU/GELU after it.
#include <algorithm>

#include "engine/autograd.h"
#include "engine/nn/activation.h"
#include "engine/nn/containers.h"
#include "engine/nn/conv2d.h"
#include "engine/nn/linear.h"
#include "kernels/cpu/parallel.h"
#include "tests/testing.h"

using namespace ember;
using ember::testing::gradcheck;
using ember::testing::random_tensor;

namespace {

Tensor composed(const Tensor& x, const Tensor& bias, Activation act, int64_t channel_dim) {
  Shape bias_shape(x.dim(), 1);
  bias_shape[channel_dim < 0 ? channel_dim + x.dim() : channel_dim] = bias.numel();
  const Tensor pre = add(x, bias.reshape(bias_shape));
  return act == Activation::relu ? relu(pre) : act == Activation::gelu ? gelu(pre) : pre;
}

// Output and the gradients of sum(out * w) with respect to x and bias.
std::vector<Tensor> run(bool fused, const Tensor& x0, const Tensor& b0, Activation act, int64_t channel_dim) {
  Tensor x = x0.clone().requires_grad_(), b = b0.clone().requires_grad_();
  const Tensor out = fused ? bias_activation(x, b, act, channel_dim) : composed(x, b, act, channel_dim);
  sum(mul(out, random_tensor(out.shape(), 5, out.dtype()))).backward();
  return {out.detach(), x.grad(), b.grad()};
}

}  // namespace

TEST_CASE("bias_activation equals the bias add and activation it fuses", "[ops][bias_activation]") {
  struct Case {
    Shape shape;
    int64_t channel_dim;
  };
  for (const Case& c : {Case{{2, 3, 4, 5}, 1}, Case{{2, 5, 3}, -1}, Case{{7, 4}, 1}}) {
    for (Activation act : {Activation::none, Activation::relu, Activation::gelu}) {
      for (DType dtype : {DType::f32, DType::f64}) {
        INFO(shape_str(c.shape) << " channel dim " << c.channel_dim << " act " << int(act) << " " << dtype_name(dtype));
        const int64_t C = c.shape[c.channel_dim < 0 ? c.shape.size() - 1 : c.channel_dim];
        const Tensor x = random_tensor(c.shape, 1, dtype, -2, 2), b = random_tensor({C}, 2, dtype);
        const std::vector<Tensor> fused = run(true, x, b, act, c.channel_dim),
                                  plain = run(false, x, b, act, c.channel_dim);
        for (size_t i = 0; i < fused.size(); ++i) EMBER_REQUIRE_CLOSE(fused[i], plain[i], 1e-6, 1e-6);
      }
    }
  }
}

TEST_CASE("bias_activation on several threads: the composed ops' values, the same bits as one thread",
          "[ops][bias_activation]") {
  struct Case {
    Shape shape;
    int64_t channel_dim;
  };
  // Past the 2^16 elements where the kernels split their work over threads; rows not a multiple of the
  // 8 partial sums, a linear layout with an odd channel count.
  for (const Case& c : {Case{{4, 6, 65, 61}, 1}, Case{{300, 257}, -1}}) {
    for (Activation act : {Activation::none, Activation::relu, Activation::gelu}) {
      INFO(shape_str(c.shape) << " act " << int(act));
      const int64_t C = c.shape[c.channel_dim < 0 ? c.shape.size() - 1 : c.channel_dim];
      const Tensor x = random_tensor(c.shape, 1, DType::f32, -2, 2), b = random_tensor({C}, 2, DType::f32);
      const int threads = kernels::cpu::cpu_threads();
      kernels::cpu::set_cpu_threads(1);
      const std::vector<Tensor> one = run(true, x, b, act, c.channel_dim);
      kernels::cpu::set_cpu_threads(std::max(2, threads));
      const std::vector<Tensor> many = run(true, x, b, act, c.channel_dim);
      kernels::cpu::set_cpu_threads(threads);
      const std::vector<Tensor> plain = run(false, x, b, act, c.channel_dim);
      for (size_t i = 0; i < many.size(); ++i) {
        CHECK(many[i].to_vector<float>() == one[i].to_vector<float>());
        EMBER_REQUIRE_CLOSE(many[i], plain[i], 1e-5, 1e-5);
      }
    }
  }
}

TEST_CASE("gradcheck: bias_activation", "[ops][bias_activation][grad]") {
  // Values away from ReLU's kink, where finite differences are exact.
  Tensor x = random_tensor({2, 3, 2, 2}, 3, DType::f64, 0.1, 1.0);
  Tensor signs = random_tensor({2, 3, 2, 2}, 4, DType::f64);
  x = mul(x, where(gt(signs, Tensor::zeros({}, DType::f64)), Tensor::full({}, 1.0, DType::f64),
                   Tensor::full({}, -1.0, DType::f64)))
          .requires_grad_();
  Tensor b = Tensor::zeros({3}, DType::f64).requires_grad_();
  for (Activation act : {Activation::none, Activation::relu, Activation::gelu})
    gradcheck([act](const std::vector<Tensor>& v) { return bias_activation(v[0], v[1], act, 1); }, {x, b});
}

TEST_CASE("bias_activation: a bias of the wrong size is named", "[ops][bias_activation]") {
  const Tensor x = random_tensor({2, 3, 4}, 1);
  CHECK_THROWS_WITH(bias_activation(x, random_tensor({4}, 2), Activation::relu, 1),
                    Catch::Contains("bias_activation: bias") && Catch::Contains("for 3 channels"));
  CHECK_THROWS_WITH(bias_activation(x, random_tensor({3}, 2), Activation::relu, 3), Catch::Contains("out of range"));
}

TEST_CASE("Sequential fuses a biased Conv2d or Linear with the activation after it", "[nn][bias_activation]") {
  Generator init(7, RandomPurpose::init);
  nn::Sequential net;
  net.add(std::make_shared<nn::Conv2d>(3, 4, 3, 1, 1, true, init));
  net.add(std::make_shared<nn::ReLU>());
  net.add(std::make_shared<nn::Conv2d>(4, 4, 3, 1, 1, false, init));  // no bias: not fused
  net.add(std::make_shared<nn::ReLU>());
  net.add(std::make_shared<nn::Conv2d>(4, 4, 1, 1, 0, true, init));  // followed by no activation
  const Tensor x = random_tensor({2, 3, 5, 5}, 8, DType::f32);

  // The same modules one at a time (no fusion), against the Sequential.
  Tensor x1 = x.clone().requires_grad_(), x2 = x.clone().requires_grad_();
  Tensor step = x1;
  for (size_t i = 0; i < net.size(); ++i) step = net[i].forward(step);
  const Tensor fused = net.forward(x2);
  EMBER_REQUIRE_CLOSE(fused, step, 1e-5, 1e-6);
  sum(step).backward();
  sum(fused).backward();
  EMBER_REQUIRE_CLOSE(x2.grad(), x1.grad(), 1e-5, 1e-6);

  // The first pair really ran fused: its output comes from one bias_activation node.
  nn::Sequential pair;
  pair.add(std::make_shared<nn::Linear>(5, 3, true, init));
  pair.add(std::make_shared<nn::GELU>());
  CHECK(pair.forward(random_tensor({4, 5}, 9, DType::f32).requires_grad_()).grad_fn()->name() == "bias_activation");
}
