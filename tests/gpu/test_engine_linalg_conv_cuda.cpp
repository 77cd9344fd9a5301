// matmul, linear and conv2d on CUDA (cuBLAS / cuDNN through engine/cuda/blas) against the same ops on the
// CPU, forward and backward, in each precision setting (fp32, tf32, bf16: f32 grads for the f32 inputs, f32
// outputs from matmul and linear, bf16 activations from conv2d on both devices).
#include <cstdlib>
#include <functional>

#include "engine/precision.h"
#include "tests/gpu/compare_with_cpu.h"
#include "tests/gpu/kernel_testing.h"

using namespace ember;
using namespace ember::testing;

namespace {

using Op = std::function<Tensor(const std::vector<Tensor>&)>;

// Outputs and the gradients of sum(op(inputs) * r) within rel_tol of the largest reference value
// (tests/gpu/compare_with_cpu.h); under bf16 a convolution returns bf16 activations on both devices alike.
void check_op_on_cuda(const Op& op, const std::vector<Tensor>& cpu_inputs, double rel_tol, const std::string& what) {
  const Tolerance tol{0, 0, rel_tol};
  compare_with_cpu([&op](const Inputs& x, Device) { return op(x); }, cpu_inputs,
                   {what + " (" + precision_name(precision()) + ")", tol, tol, 777, std::nullopt});
}

// fp32 agrees to float rounding, or to ~1e-4 where cuDNN's search picks a Winograd or FFT convolution (allowed:
// deterministic means bit-reproducible, not a direct sum); TF32 and bf16 round the operands (2^-11 and 2^-8).
double tolerance() {
  switch (precision()) {
    case Precision::fp32:
      return 1e-4;
    case Precision::tf32:
      return 5e-3;
    case Precision::bf16:
      return 3e-2;
  }
  return 0;
}

Tensor rand(const Shape& s, uint64_t seed) { return random_tensor(s, seed, DType::f32); }

}  // namespace

TEST_CASE("matmul on CUDA matches the CPU: 2-D, transposed views, broadcast batches", "[gpu][engine_cuda]") {
  require_gpu();
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16}) {
    PrecisionGuard guard(p);
    check_op_on_cuda([](const std::vector<Tensor>& t) { return matmul(t[0], t[1]); },
                     {rand({7, 5}, 1), rand({5, 9}, 2)}, tolerance(), "matmul 2-D");
    check_op_on_cuda([](const std::vector<Tensor>& t) { return matmul(t[0].transpose(0, 1), t[1].transpose(0, 1)); },
                     {rand({5, 7}, 3), rand({9, 5}, 4)}, tolerance(), "matmul of transposed views");
    check_op_on_cuda([](const std::vector<Tensor>& t) { return matmul(t[0], t[1]); },
                     {rand({2, 3, 6, 4}, 5), rand({4, 5}, 6)}, tolerance(), "matmul broadcast weight");
    // Attention's q k^T: [B, H, N, D] x [B, H, D, N] with k transposed as a view.
    check_op_on_cuda([](const std::vector<Tensor>& t) { return matmul(t[0], t[1].transpose(-1, -2)); },
                     {rand({2, 3, 5, 8}, 7), rand({2, 3, 5, 8}, 8)}, tolerance(), "matmul q k^T");
    // A permuted batch whose dims do not collapse into one stride: copied, still right.
    check_op_on_cuda(
        [](const std::vector<Tensor>& t) {
          return matmul(t[0].permute({1, 0, 2, 3}), t[1]);
        },
        {rand({3, 2, 4, 6}, 9), rand({2, 1, 6, 3}, 10)}, tolerance(), "matmul permuted batch");
  }
}

TEST_CASE("linear on CUDA matches the CPU, with and without bias", "[gpu][engine_cuda]") {
  require_gpu();
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16}) {
    PrecisionGuard guard(p);
    check_op_on_cuda([](const std::vector<Tensor>& t) { return linear(t[0], t[1], t[2]); },
                     {rand({2, 5, 12}, 11), rand({7, 12}, 12), rand({7}, 13)}, tolerance(), "linear with bias");
    check_op_on_cuda([](const std::vector<Tensor>& t) { return linear(t[0], t[1]); },
                     {rand({6, 12}, 14), rand({3, 12}, 15)}, tolerance(), "linear without bias");
  }
}

TEST_CASE("conv2d on CUDA matches the CPU: padding, stride, 1x1, bias", "[gpu][engine_cuda]") {
  require_gpu();
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16}) {
    PrecisionGuard guard(p);
    Conv2dParams same;
    same.pad_h = same.pad_w = 1;
    check_op_on_cuda([same](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], t[2], same); },
                     {rand({2, 3, 8, 8}, 16), rand({4, 3, 3, 3}, 17), rand({4}, 18)}, tolerance(),
                     "conv2d 3x3 pad 1 with bias");
    Conv2dParams strided;
    strided.stride_h = strided.stride_w = 2;
    strided.pad_h = strided.pad_w = 1;
    check_op_on_cuda([strided](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], Tensor(), strided); },
                     {rand({2, 4, 9, 9}, 19), rand({6, 4, 3, 3}, 20)}, tolerance(), "conv2d 3x3 stride 2");
    Conv2dParams down;
    down.stride_h = down.stride_w = 2;
    check_op_on_cuda([down](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], Tensor(), down); },
                     {rand({2, 4, 8, 8}, 21), rand({8, 4, 1, 1}, 22)}, tolerance(), "conv2d 1x1 stride 2");
  }
}

// conv2d's cuDNN backward-data and backward-filter passes run as conv_transpose2d's forward and weight gradient.
// fp32 and tf32: under bf16 the CPU's transposed convolution stays f32 where cuDNN's returns bf16.
TEST_CASE("conv_transpose2d on CUDA matches the CPU: stride 2, output padding, bias", "[gpu][engine_cuda]") {
  require_gpu();
  for (Precision p : {Precision::fp32, Precision::tf32}) {
    PrecisionGuard guard(p);
    const Conv2dParams up{2, 2, 1, 1, 1, 1};
    check_op_on_cuda([up](const std::vector<Tensor>& t) { return conv_transpose2d(t[0], t[1], t[2], up); },
                     {rand({2, 6, 4, 4}, 40), rand({6, 3, 4, 4}, 41), rand({3}, 42)}, tolerance(),
                     "conv_transpose2d 4x4 stride 2 with bias (the DCGAN's upsampling)");
    check_op_on_cuda([up](const std::vector<Tensor>& t) { return conv_transpose2d(t[0], t[1], Tensor(), up, 1, 1); },
                     {rand({2, 4, 5, 5}, 43), rand({4, 2, 3, 3}, 44)}, tolerance(),
                     "conv_transpose2d 3x3 stride 2, output padding 1");
  }
}

// Sets EMBER_CUDA_CONV_LAYOUT for a scope and unsets it on the way out, also when a REQUIRE fails inside.
struct ConvLayoutEnv {
  explicit ConvLayoutEnv(const char* value) { setenv("EMBER_CUDA_CONV_LAYOUT", value, 1); }
  ~ConvLayoutEnv() { unsetenv("EMBER_CUDA_CONV_LAYOUT"); }
};

TEST_CASE("bf16 conv2d on CUDA matches the CPU on NHWC (the default) and NCHW operands", "[gpu][engine_cuda]") {
  require_gpu();
  PrecisionGuard guard(Precision::bf16);
  for (const char* layout : {"nchw", "nhwc"}) {
    INFO("EMBER_CUDA_CONV_LAYOUT=" << layout);
    ConvLayoutEnv env(layout);
    Conv2dParams strided;
    strided.stride_h = strided.stride_w = 2;
    strided.pad_h = strided.pad_w = 1;
    // 8 -> 16 channels: NHWC under the default; under nchw, NCHW.
    check_op_on_cuda([strided](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], t[2], strided); },
                     {rand({3, 8, 9, 7}, 23), rand({16, 8, 3, 3}, 24), rand({16}, 25)}, tolerance(),
                     std::string("conv2d 3x3 stride 2, ") + layout);
    // The CNN's 3-channel stem stays NCHW either way (channel counts not multiples of 8).
    Conv2dParams same;
    same.pad_h = same.pad_w = 1;
    check_op_on_cuda([same](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], Tensor(), same); },
                     {rand({2, 3, 32, 32}, 26), rand({32, 3, 3, 3}, 27)}, tolerance(), std::string("stem, ") + layout);
  }
  ConvLayoutEnv env("sideways");
  CHECK_THROWS_WITH(conv2d(rand({1, 8, 4, 4}, 28).to(Device::cuda(0)), rand({8, 8, 3, 3}, 29).to(Device::cuda(0)),
                           Tensor(), Conv2dParams{}),
                    Catch::Contains("EMBER_CUDA_CONV_LAYOUT must be nhwc or nchw"));
}

TEST_CASE("CUDA matmul keeps device and dtype rules", "[gpu][engine_cuda]") {
  require_gpu();
  const Tensor a = rand({3, 4}, 23).to(Device::cuda(0)), b = rand({4, 2}, 24);
  CHECK_THROWS_WITH(matmul(a, b), Catch::Contains("different devices"));
  CHECK_THROWS_WITH(matmul(a, a.to(DType::f64)), Catch::Contains("dtypes differ"));
}
