// bf16 activations on CUDA against the CPU (engine/precision.h, tests/cpu/test_bf16_activations.cpp): the
// activation kernels' bf16 instantiations (elementwise, bias + activation, batch norm, pooling) through the
// engine, forward and backward, and the convolution's bf16 output. Both devices compute f32 maths on the same
// bf16 inputs and round once, so results agree to about one bf16 step (2^-8 relative) where the f32 results
// differ only in summation order.
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "engine/precision.h"
#include "tests/gpu/compare_with_cpu.h"
#include "tests/testing.h"

using namespace ember;
using ember::testing::random_bf16;
using ember::testing::random_tensor;
using ember::testing::require_gpu;
using ember::testing::require_within;

namespace {

const Device kGpu = Device::cuda(0);
using testing::Inputs;
using Op = std::function<Tensor(const Inputs&)>;

// Outputs (whose dtype must be `out_dtype` on both devices) within rtol |want| + scale_tol max|want| (the second
// term: sums that cancel carry the absolute error of the tensor's large entries), gradients of sum(f * w) within
// twice that, each in its input's dtype (tests/gpu/compare_with_cpu.h).
void compare_on_cuda(const Op& f, const std::vector<Tensor>& inputs, DType out_dtype, double rtol, double scale_tol) {
  testing::compare_with_cpu([&f](const Inputs& x, Device) { return f(x); }, inputs,
                            {"bf16 op", {rtol, 0, scale_tol}, {rtol * 2, 0, scale_tol * 2}, 515151, out_dtype});
}

Tensor f32_random(const Shape& s, uint64_t seed, double lo = -1, double hi = 1) {
  return random_tensor(s, seed, DType::f32, lo, hi);
}

constexpr double kStep = 1.0 / 128;  // one bf16 step: 2^-7 of a value just above a power of two

}  // namespace

TEST_CASE("bf16 elementwise ops on CUDA match the CPU", "[gpu][bf16]") {
  require_gpu();
  const Shape odd{3, 5, 7, 9};  // odd sizes: the unvectorised tails
  for (const Shape& s : {odd, Shape{4, 8, 16, 16}}) {
    INFO("shape " << shape_str(s));
    compare_on_cuda([](const Inputs& x) { return relu(x[0]); }, {random_bf16(s, 1)}, DType::bf16, kStep, 1e-6);
    compare_on_cuda([](const Inputs& x) { return gelu(x[0]); }, {random_bf16(s, 2)}, DType::bf16, kStep, 1e-3);
    compare_on_cuda([](const Inputs& x) { return add(x[0], x[1]); }, {random_bf16(s, 3), random_bf16(s, 4)},
                    DType::bf16, kStep, 1e-6);
    compare_on_cuda([](const Inputs& x) { return mul(x[0], x[1]); }, {random_bf16(s, 5), random_bf16(s, 6)},
                    DType::bf16, kStep, 1e-6);
  }
  // Broadcast (the strided kernel) and bf16 with f32 (promoted to f32).
  compare_on_cuda([](const Inputs& x) { return add(x[0], x[1]); }, {random_bf16({4, 6, 5}, 7), random_bf16({6, 1}, 8)},
                  DType::bf16, kStep, 1e-6);
  compare_on_cuda([](const Inputs& x) { return add(x[0], x[1]); }, {random_bf16({4, 6}, 9), f32_random({4, 6}, 10)},
                  DType::f32, 1e-6, 1e-7);
}

TEST_CASE("bf16 bias_activation on CUDA matches the CPU (f32 bias and its gradient)", "[gpu][bf16]") {
  require_gpu();
  for (Activation act : {Activation::none, Activation::relu, Activation::gelu}) {
    INFO("activation " << static_cast<int>(act));
    compare_on_cuda([act](const Inputs& x) { return bias_activation(x[0], x[1], act, 1); },
                    {random_bf16({4, 16, 8, 8}, 20), f32_random({16}, 21)}, DType::bf16, kStep, 1e-3);
    compare_on_cuda([act](const Inputs& x) { return bias_activation(x[0], x[1], act, -1); },
                    {random_bf16({7, 33}, 22), f32_random({33}, 23)}, DType::bf16, kStep, 1e-3);
  }
}

TEST_CASE("bf16 batch_norm on CUDA matches the CPU in training and eval", "[gpu][bf16]") {
  require_gpu();
  for (const Shape& s : {Shape{8, 16, 8, 8}, Shape{5, 3, 7, 3}}) {
    for (bool training : {true, false}) {
      INFO("shape " << shape_str(s) << " training " << training);
      const int64_t C = s[1];
      Tensor rm_cpu = f32_random({C}, 30, -0.5, 0.5), rv_cpu = f32_random({C}, 31, 0.5, 1.5);
      Tensor rm_gpu = rm_cpu.to(kGpu), rv_gpu = rv_cpu.to(kGpu);
      compare_on_cuda(
          [&](const Inputs& x) {
            const bool on_gpu = x[0].device().is_cuda();
            return batch_norm(x[0], x[1], x[2], on_gpu ? rm_gpu : rm_cpu, on_gpu ? rv_gpu : rv_cpu, training);
          },
          {random_bf16(s, 32), f32_random({C}, 33, 0.5, 1.5), f32_random({C}, 34)}, DType::bf16, 2 * kStep, 1e-2);
      EMBER_REQUIRE_CLOSE(rm_gpu.to(Device::cpu()), rm_cpu, 1e-5, 1e-6);
      EMBER_REQUIRE_CLOSE(rv_gpu.to(Device::cpu()), rv_cpu, 1e-5, 1e-6);
    }
  }
}

TEST_CASE("bf16 pooling on CUDA matches the CPU", "[gpu][bf16]") {
  require_gpu();
  compare_on_cuda([](const Inputs& x) { return max_pool2d(x[0], 2, 2, 0); }, {random_bf16({3, 8, 16, 16}, 40)},
                  DType::bf16, 0, 0);  // a maximum is one of the inputs: exact
  compare_on_cuda([](const Inputs& x) { return max_pool2d(x[0], 3, 2, 1); }, {random_bf16({2, 5, 9, 9}, 41)},
                  DType::bf16, 0, 0);
  compare_on_cuda([](const Inputs& x) { return avg_pool2d(x[0], 4, 4, 0); }, {random_bf16({4, 8, 4, 4}, 42)},
                  DType::bf16, kStep, 1e-6);
  compare_on_cuda([](const Inputs& x) { return adaptive_avg_pool2d(x[0], 3, 2); }, {random_bf16({2, 6, 7, 5}, 43)},
                  DType::bf16, kStep, 1e-6);
}

TEST_CASE("under bf16 CUDA convolutions return bf16 and match the CPU", "[gpu][bf16]") {
  require_gpu();
  PrecisionGuard guard(Precision::bf16);
  // 64 -> 64 runs NHWC, 3 -> 16 NCHW (conv_runs_nhwc); a bf16 input (the previous layer's) and an f32 one (the
  // images). The CPU rounds its f32 result once; CUDA also rounds x and w to bf16 first, hence the tolerance.
  for (int64_t in : {int64_t{3}, int64_t{64}}) {
    INFO("in channels " << in);
    for (DType x_dtype : {DType::f32, DType::bf16}) {
      const Tensor x = f32_random({4, in, 8, 8}, 50 + in).to(x_dtype);
      const int64_t out = in == 3 ? 16 : 64;
      compare_on_cuda(
          [](const Inputs& t) {
            return conv2d(t[0], t[1], t[2], {1, 1, 1, 1});
          },
          {x, f32_random({out, in, 3, 3}, 51, -0.2, 0.2), f32_random({out}, 52)}, DType::bf16, 2 * kStep, 2e-2);
    }
  }
  // linear takes the bf16 activation and returns f32.
  compare_on_cuda([](const Inputs& t) { return linear(t[0], t[1], t[2]); },
                  {random_bf16({8, 64}, 53), f32_random({10, 64}, 54, -0.2, 0.2), f32_random({10}, 55)}, DType::f32,
                  2 * kStep, 2e-2);
}

TEST_CASE("CUDA activation ops keep channels_last and match the CPU", "[gpu][bf16][layout]") {
  // Under bf16 the NHWC convolutions return channels_last activations; batch norm, bias + activation and the
  // elementwise ops keep the layout (their kernels walk the NHWC storage), and conversions to contiguous (for
  // pooling, or to the host) take the tiled transpose.
  require_gpu();
  const Tensor bias = f32_random({16}, 70), gamma = f32_random({16}, 71, 0.5, 1.5);
  using LayoutOp = std::function<Tensor(const Tensor&, const Tensor&)>;
  const std::vector<std::pair<const char*, LayoutOp>> ops = {
      {"relu", [](const Tensor& x, const Tensor&) { return relu(x); }},
      {"add", [](const Tensor& x, const Tensor& r) { return add(x, r); }},
      {"add to NCHW", [](const Tensor& x, const Tensor& r) { return add(r.contiguous(), x); }},
      {"bias + relu",
       [&](const Tensor& x, const Tensor&) { return bias_activation(x, bias.to(x.device()), Activation::relu, 1); }},
      {"batch_norm",
       [&](const Tensor& x, const Tensor&) {
         return batch_norm(x, gamma.to(x.device()), bias.to(x.device()), {}, {}, true);
       }},
      {"max_pool2d", [](const Tensor& x, const Tensor&) { return max_pool2d(x, 2, 2, 0); }},
  };
  for (DType dtype : {DType::f32, DType::bf16}) {
    for (const auto& [name, op] : ops) {
      INFO(name << " " << dtype_name(dtype));
      const Tensor x_cpu = f32_random({4, 16, 6, 6}, 72, -2, 2).to(dtype).requires_grad_();
      const Tensor r_cpu = f32_random({4, 16, 6, 6}, 73, -2, 2).to(dtype).requires_grad_();
      const Tensor x = x_cpu.detach().to(kGpu).in_layout(Layout::channels_last).requires_grad_();
      const Tensor r = r_cpu.detach().to(kGpu).in_layout(Layout::channels_last).requires_grad_();
      REQUIRE(x.is_channels_last());
      const Tensor y = op(x, r), y_cpu = op(x_cpu, r_cpu);
      if (std::string(name) != "max_pool2d") CHECK(y.is_channels_last());
      const double rtol = dtype == DType::bf16 ? 2 * kStep : 1e-5;
      require_within(y, y_cpu, {rtol, 0, 1e-5}, "output");
      const Tensor w = f32_random(y_cpu.shape(), 74);
      sum(mul(y, w.to(kGpu))).backward();
      sum(mul(y_cpu, w)).backward();
      require_within(x.grad(), x_cpu.grad(), {2 * rtol, 0, 1e-4}, "x gradient");
      if (r_cpu.grad().defined()) require_within(r.grad(), r_cpu.grad(), {2 * rtol, 0, 1e-4}, "r gradient");
    }
  }
}

TEST_CASE("under bf16 a chain of CUDA convolutions stays channels_last and matches the CPU", "[gpu][bf16][layout]") {
  require_gpu();
  PrecisionGuard guard(Precision::bf16);
  struct Chain {
    Tensor out, stem_grad, w_grad;
    bool channels_last = true;
  };
  // A ResNet block's pattern: stem (3 channels, NCHW maths), conv, batch norm, residual add, ReLU, conv.
  auto run = [](Device device) {
    const Tensor image = f32_random({4, 3, 16, 16}, 80).to(device);
    const Tensor stem = f32_random({64, 3, 3, 3}, 81, -0.3, 0.3).to(device).requires_grad_();
    const Tensor w = f32_random({64, 64, 3, 3}, 82, -0.1, 0.1).to(device).requires_grad_();
    Chain r;
    const Tensor a = relu(conv2d(image, stem, Tensor(), {1, 1, 1, 1}));
    const Tensor b = conv2d(a, w, Tensor(), {1, 1, 1, 1});
    const Tensor c = relu(add(batch_norm(b, Tensor(), Tensor(), {}, {}, true), a));
    r.out = conv2d(c, w, Tensor(), {1, 1, 1, 1});
    for (const Tensor* t : {&a, &b, &c, static_cast<const Tensor*>(&r.out)}) {
      REQUIRE(t->dtype() == DType::bf16);
      r.channels_last = r.channels_last && t->is_channels_last();
    }
    sum(mul(r.out, f32_random(r.out.shape(), 83).to(device))).backward();
    r.stem_grad = stem.grad(), r.w_grad = w.grad();
    return r;
  };
  const Chain gpu = run(kGpu), cpu = run(Device::cpu());
  CHECK(gpu.channels_last);  // the stem's result too: its 64 output channels go on to NHWC convolutions
  for (const Tensor* g : {&gpu.stem_grad, &gpu.w_grad}) {
    CHECK(g->dtype() == DType::f32);
    CHECK(g->is_contiguous());
  }
  // CUDA rounds x and w to bf16 in every convolution, the CPU here may not: a few bf16 steps of the scale.
  require_within(gpu.out, cpu.out.to(DType::f64), {4 * kStep, 0, 3e-2}, "output");
  require_within(gpu.w_grad, cpu.w_grad.to(DType::f64), {4 * kStep, 0, 5e-2}, "w gradient");
  require_within(gpu.stem_grad, cpu.stem_grad.to(DType::f64), {4 * kStep, 0, 5e-2}, "stem gradient");
}
