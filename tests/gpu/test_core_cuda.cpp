// The engine core on CUDA against the CPU: copies, elementwise ops, sums, autograd through them, and the
// caching allocator's steady state.
#include "engine/cuda/allocator.h"
#include "tests/testing.h"

using namespace ember;
using ember::testing::random_tensor;
using ember::testing::require_gpu;

namespace {
const Device kGpu = Device::cuda(0);
}

TEST_CASE("cuda: host-device round trips keep every dtype and strided layouts", "[gpu][core]") {
  require_gpu();
  Tensor x = mul_scalar(random_tensor({3, 4, 5}, 1, DType::f32), 50.0);
  for (DType t : {DType::f32, DType::f64, DType::bf16, DType::i64, DType::i32, DType::u8}) {
    Tensor h = x.to(t);
    Tensor back = h.to(kGpu).to(Device::cpu());
    REQUIRE(back.dtype() == t);
    CHECK(back.to_vector<double>() == h.to_vector<double>());
  }
  // Strided device-to-device copy (permute + narrow + expand), and dtype conversion on the device.
  Tensor g = x.to(kGpu);
  Tensor p = g.permute({2, 0, 1}).narrow(0, 1, 3).contiguous();
  CHECK(p.to(Device::cpu()).to_vector<float>() == x.permute({2, 0, 1}).narrow(0, 1, 3).contiguous().to_vector<float>());
  Tensor e = g.narrow(1, 0, 1).expand({3, 4, 5}).to(DType::f64);
  CHECK(e.to(Device::cpu()).to_vector<double>() == x.narrow(1, 0, 1).expand({3, 4, 5}).to(DType::f64).to_vector<double>());
  Tensor filled = Tensor::full({7, 3}, 2.5, DType::f32, kGpu);
  CHECK(filled.to(Device::cpu()).to_vector<float>() == std::vector<float>(21, 2.5f));
  // Fills run on the device, also through strided views and for integer dtypes.
  filled.narrow(1, 1, 1).fill_(-1.0);
  Tensor expected = Tensor::full({7, 3}, 2.5, DType::f32);
  expected.narrow(1, 1, 1).fill_(-1.0);
  CHECK(filled.to(Device::cpu()).to_vector<float>() == expected.to_vector<float>());
  CHECK(Tensor::full({5}, 7, DType::i64, kGpu).to_vector<int64_t>() == std::vector<int64_t>(5, 7));
}

TEST_CASE("cuda: elementwise and sum match the CPU, forward and backward", "[gpu][core]") {
  require_gpu();
  Tensor a = random_tensor({8, 1, 33}, 2, DType::f32), b = random_tensor({5, 33}, 3, DType::f32, 0.5, 2.0);
  using Bin = Tensor (*)(const Tensor&, const Tensor&);
  for (Bin f : {Bin(add), Bin(sub), Bin(mul), Bin(div)}) {
    EMBER_REQUIRE_CLOSE(f(a.to(kGpu), b.to(kGpu)).to(Device::cpu()), f(a, b), 1e-6, 1e-6);
  }
  using Un = Tensor (*)(const Tensor&);
  for (Un f : {Un(neg), Un(exp), Un(tanh), Un(sigmoid), Un(gelu), Un(relu), Un(abs), Un(sqrt), Un(log)}) {
    Tensor pos = b;  // log/sqrt need positive inputs; the others accept any
    EMBER_REQUIRE_CLOSE(f(pos.to(kGpu)).to(Device::cpu()), f(pos), 1e-5, 1e-6);
  }
  for (std::vector<int64_t> dims : {std::vector<int64_t>{}, {0}, {2}, {0, 2}}) {
    EMBER_REQUIRE_CLOSE(sum(a.to(kGpu), dims).to(Device::cpu()), sum(a, dims), 1e-5, 1e-5);
  }

  // Autograd through device ops: the gradient is computed on the device and equals the CPU one.
  Tensor ca = a.clone().requires_grad_(), cb = b.clone().requires_grad_();
  sum(mul(gelu(add(ca, cb)), cb)).backward();
  Tensor ga = a.to(kGpu).requires_grad_(), gb = b.to(kGpu).requires_grad_();
  sum(mul(gelu(add(ga, gb)), gb)).backward();
  REQUIRE(ga.grad().device() == kGpu);
  EMBER_REQUIRE_CLOSE(ga.grad().to(Device::cpu()), ca.grad(), 1e-5, 1e-5);
  EMBER_REQUIRE_CLOSE(gb.grad().to(Device::cpu()), cb.grad(), 1e-5, 1e-5);
}

TEST_CASE("cuda: sums are bit-identical run to run", "[gpu][core]") {
  require_gpu();
  Tensor x = random_tensor({1000, 777}, 4, DType::f32).to(kGpu);
  CHECK(sum(x, {0}).to_vector<float>() == sum(x, {0}).to_vector<float>());
  CHECK(sum(x).item() == sum(x).item());
  // The chunked path (few outputs, many elements each) agrees with the CPU's double-accumulated sum.
  Tensor big = random_tensor({3, 1 << 20}, 12, DType::f32);
  EMBER_REQUIRE_CLOSE(sum(big.to(kGpu), {1}).to(Device::cpu()), sum(big, {1}), 1e-4, 1e-3);
  EMBER_REQUIRE_CLOSE(sum(big.to(kGpu).transpose(0, 1), {0}).to(Device::cpu()), sum(big, {1}), 1e-4, 1e-3);
  EMBER_REQUIRE_CLOSE(sum(big.to(kGpu)).to(Device::cpu()), sum(big), 1e-4, 1e-3);
  CHECK(sum(big.to(kGpu)).item() == sum(big.to(kGpu)).item());
}

TEST_CASE("cuda: the caching allocator makes no cudaMalloc in the steady state", "[gpu][core]") {
  require_gpu();
  Tensor w = random_tensor({256, 256}, 5, DType::f32).to(kGpu).requires_grad_();
  auto step = [&] {  // a training step: the gradient is dropped before each backward, as zero_grad does
    w.zero_grad();
    Tensor x = random_tensor({64, 256}, 6, DType::f32).to(kGpu);
    sum(mul(relu(add(x.unsqueeze(1), w.narrow(0, 0, 1))), x.unsqueeze(1))).backward();
  };
  step();
  const uint64_t mallocs = cuda::caching_allocator().stats().cuda_malloc_calls;
  for (int i = 0; i < 5; ++i) step();
  CHECK(cuda::caching_allocator().stats().cuda_malloc_calls == mallocs);
  CHECK(cuda::caching_allocator().stats().peak_allocated_bytes >= 256 * 256 * 4);
}

TEST_CASE("cuda: mixing devices is an error naming both tensors", "[gpu][core]") {
  require_gpu();
  Tensor a = random_tensor({3}, 7, DType::f32);
  CHECK_THROWS_WITH(add(a, a.to(kGpu)), Catch::Contains("different devices") && Catch::Contains("cuda:0"));
}

TEST_CASE("cuda: comparisons, where, max/argmax, index_select and gather match the CPU", "[gpu][core]") {
  require_gpu();
  Tensor a = random_tensor({6, 7}, 8, DType::f32), b = random_tensor({7}, 9, DType::f32);
  Tensor ga = a.to(kGpu), gb = b.to(kGpu);
  CHECK(gt(ga, gb).to_vector<uint8_t>() == gt(a, b).to_vector<uint8_t>());
  CHECK(lt(ga, gb).to_vector<uint8_t>() == lt(a, b).to_vector<uint8_t>());
  Tensor labels = Tensor::from_vector<int64_t>({1, 2, 3, 4}, {4}), preds = Tensor::from_vector<int64_t>({1, 0, 3, 0}, {4});
  CHECK(eq(labels.to(kGpu), preds.to(kGpu)).to_vector<uint8_t>() == std::vector<uint8_t>{1, 0, 1, 0});
  CHECK(where(gt(ga, gb), ga, gb).to_vector<float>() == where(gt(a, b), a, b).to_vector<float>());
  for (int64_t d : {0, 1}) {
    CHECK(argmax(ga, d).to_vector<int64_t>() == argmax(a, d).to_vector<int64_t>());
    CHECK(max(ga, d).first.to_vector<float>() == max(a, d).first.to_vector<float>());
  }
  Tensor idx = Tensor::from_vector<int64_t>({3, 0, 3, 5}, {4});
  Tensor ca = a.clone().requires_grad_(), cg = ga.clone().requires_grad_();
  Tensor w = random_tensor({6, 4}, 10, DType::f32);
  sum(mul(index_select(ca, 1, idx), w)).backward();
  sum(mul(index_select(cg, 1, idx.to(kGpu)), w.to(kGpu))).backward();
  EMBER_REQUIRE_CLOSE(cg.grad().to(Device::cpu()), ca.grad(), 1e-6, 1e-6);
  Tensor gidx = Tensor::from_vector<int64_t>({0, 2, 1, 1, 6, 0, 2, 2, 3, 5, 4, 4}, {6, 2});
  Tensor ca2 = a.clone().requires_grad_(), cg2 = ga.clone().requires_grad_();
  Tensor w2 = random_tensor({6, 2}, 11, DType::f32);
  sum(mul(gather(ca2, 1, gidx), w2)).backward();
  sum(mul(gather(cg2, 1, gidx.to(kGpu)), w2.to(kGpu))).backward();
  CHECK(gather(cg2, 1, gidx.to(kGpu)).to_vector<float>() == gather(ca2, 1, gidx).to_vector<float>());
  EMBER_REQUIRE_CLOSE(cg2.grad().to(Device::cpu()), ca2.grad(), 1e-6, 1e-6);
  CHECK_THROWS_WITH(index_select(ga, 1, Tensor::from_vector<int64_t>({7}, {1}).to(kGpu)), Catch::Contains("out of range"));
}
