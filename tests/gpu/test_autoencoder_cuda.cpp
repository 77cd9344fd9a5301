// The autoencoder's composed ops (upsample_nearest2d, mse_loss) and the model itself on cuda:0 against the CPU:
// outputs and the gradients of sum(out * w) (tests/gpu/compare_with_cpu.h). The ops have no kernels of their own;
// this checks that their composition (expand + copy, sum_to; sub, mul, mean) holds on the CUDA kernels.
#include "models/autoencoder.h"
#include "tests/gpu/compare_with_cpu.h"
#include "tests/testing.h"

using namespace ember;
using ember::testing::random_tensor;
using ember::testing::require_gpu;

namespace {

void compare_on_cuda(const testing::DeviceOp& f, const std::vector<Tensor>& inputs, const char* what) {
  testing::compare_with_cpu(f, inputs, {what, {1e-5, 1e-6}, {1e-4, 1e-5}, 424242, std::nullopt});
}

}  // namespace

TEST_CASE("cuda engine: upsample_nearest2d and mse_loss against the CPU", "[gpu][engine_cuda][autoencoder]") {
  require_gpu();
  for (int64_t scale : {2, 3}) {
    INFO("scale " << scale);
    compare_on_cuda([scale](const std::vector<Tensor>& x, Device) { return upsample_nearest2d(x[0], scale); },
                    {random_tensor({2, 3, 5, 7}, 1, DType::f32)}, "upsample_nearest2d");
  }
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
    INFO("reduction " << int(r));
    compare_on_cuda([r](const std::vector<Tensor>& x, Device) { return mse_loss(x[0], x[1], r); },
                    {random_tensor({4, 1, 28, 28}, 2, DType::f32), random_tensor({4, 1, 28, 28}, 3, DType::f32)},
                    "mse_loss");
  }
}

TEST_CASE("cuda engine: the Autoencoder's reconstruction and embedding match the CPU's", "[gpu][autoencoder]") {
  require_gpu();
  NoGradGuard no_grad;
  models::Autoencoder cpu(1, {1, 28, 28}, 16), gpu(1, {1, 28, 28}, 16);
  gpu.to(Device::cuda(0));
  cpu.eval(), gpu.eval();
  const Tensor x = random_tensor({3, 1, 28, 28}, 4, DType::f32, 0, 1);
  const Tensor xg = x.to(Device::cuda(0));
  testing::require_within(gpu.encode(xg), cpu.encode(x), {1e-4, 1e-5}, "embedding");
  testing::require_within(gpu(xg), cpu(x), {1e-4, 1e-5}, "reconstruction");
}
