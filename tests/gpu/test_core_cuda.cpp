// The engine core on CUDA against the CPU: copies, elementwise ops, sums, autograd through them, and the
// caching allocator's steady state.
#include <cmath>
#include <cstring>

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
  // Device-to-host copies of a strided view (made dense on the device first) and of a plain one.
  CHECK(g.permute({2, 0, 1}).to(Device::cpu()).to_vector<float>() == x.permute({2, 0, 1}).to_vector<float>());
  Tensor host_view = Tensor::zeros({5, 3, 4}).permute({1, 2, 0});  // a strided destination
  host_view.copy_(g);
  CHECK(host_view.contiguous().to_vector<float>() == x.to_vector<float>());
  Tensor e = g.narrow(1, 0, 1).expand({3, 4, 5}).to(DType::f64);
  CHECK(e.to(Device::cpu()).to_vector<double>() ==
        x.narrow(1, 0, 1).expand({3, 4, 5}).to(DType::f64).to_vector<double>());
  Tensor filled = Tensor::full({7, 3}, 2.5, DType::f32, kGpu);
  CHECK(filled.to(Device::cpu()).to_vector<float>() == std::vector<float>(21, 2.5f));
  // Fills run on the device, also through strided views and for integer dtypes.
  filled.narrow(1, 1, 1).fill_(-1.0);
  Tensor expected = Tensor::full({7, 3}, 2.5, DType::f32);
  expected.narrow(1, 1, 1).fill_(-1.0);
  CHECK(filled.to(Device::cpu()).to_vector<float>() == expected.to_vector<float>());
  CHECK(Tensor::full({5}, 7, DType::i64, kGpu).to_vector<int64_t>() == std::vector<int64_t>(5, 7));
}

TEST_CASE("cuda: dtype conversions on the device give the CPU's values", "[gpu][core]") {
  require_gpu();
  // Integers beyond the target's range wrap, as the CPU's static_cast does (through double they saturated).
  const std::vector<int64_t> ints = {
      0, 1, -1, 255, 256, -129, int64_t{1} << 31, -(int64_t{1} << 31) - 1, (int64_t{1} << 53) + 1, INT64_MAX};
  const Tensor hi = Tensor::from_vector(ints, {2, 5});
  const Tensor gi = hi.to(kGpu);
  for (DType t : {DType::i32, DType::u8}) {
    INFO(dtype_name(t));
    CHECK(gi.to(t).to(Device::cpu()).to_vector<int64_t>() == hi.to(t).to_vector<int64_t>());
  }
  // A permuting same-dtype copy (a kernel, not a memcpy) keeps i64 above 2^53 exactly.
  CHECK(gi.transpose(0, 1).contiguous().to_vector<int64_t>() == hi.transpose(0, 1).contiguous().to_vector<int64_t>());
  // f32 -> bf16 rounds to nearest even like the CPU: ties both ways, a denormal, overflow, infinities; on the
  // vectorised path with a tail (11 elements) and on the generic one (an unaligned view). Then back to f32.
  const std::vector<float> f = {1.f,      1.00390625f, 1.01171875f, -3.3f, 1e-40f, 3.4e38f,
                                INFINITY, -INFINITY,   0.f,         -0.f,  65504.f};
  const Tensor hf = Tensor::from_vector(f, {11});
  const Tensor gf = hf.to(kGpu);
  CHECK(gf.to(DType::bf16).to_vector<float>() == hf.to(DType::bf16).to_vector<float>());
  CHECK(gf.narrow(0, 1, 10).to(DType::bf16).to_vector<float>() ==
        hf.narrow(0, 1, 10).to(DType::bf16).to_vector<float>());
  const Tensor hb = hf.to(DType::bf16);
  CHECK(hb.to(kGpu).to(DType::f32).to_vector<float>() == hb.to(DType::f32).to_vector<float>());
}

TEST_CASE("cuda: ReLU's gradient is zero where x <= 0 even for NaN or infinite dy, as on the CPU", "[gpu][core]") {
  require_gpu();
  const Tensor x = Tensor::from_vector(std::vector<float>{-1.f, 0.f, 2.f, -3.f, 4.f, -5.f}, {2, 3});
  const Tensor dy = Tensor::from_vector(std::vector<float>{NAN, INFINITY, 1.f, -2.f, NAN, -INFINITY}, {2, 3});
  auto grad_of = [&](Device d, bool biased) {
    Tensor xd = x.to(d).requires_grad_();
    Tensor b = Tensor::zeros({3}, DType::f32, d).requires_grad_();
    Tensor y = biased ? bias_activation(xd, b, Activation::relu, 1) : relu(xd);
    sum(mul(y, dy.to(d))).backward();
    return xd.grad().to(Device::cpu());
  };
  for (bool biased : {false, true}) {
    INFO("bias_activation " << biased);
    const Tensor want = grad_of(Device::cpu(), biased), got = grad_of(kGpu, biased);
    const std::vector<float> w = want.to_vector<float>(), g = got.to_vector<float>();
    REQUIRE(w.size() == 6);
    for (size_t i = 0; i < w.size(); ++i) {
      INFO("element " << i);
      if (std::isnan(w[i]))  // NaN passes where x > 0 (GPU arithmetic makes its payload canonical)
        CHECK(std::isnan(g[i]));
      else  // the same bits: +0 where x <= 0, also for a negative dy (a product would give -0)
        CHECK(std::memcmp(&w[i], &g[i], sizeof(float)) == 0);
    }
    CHECK((w[0] == 0.f && !std::signbit(w[3]) && std::isnan(w[4])));  // the CPU reference itself
  }
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
  Tensor labels = Tensor::from_vector<int64_t>({1, 2, 3, 4}, {4}),
         preds = Tensor::from_vector<int64_t>({1, 0, 3, 0}, {4});
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
  CHECK_THROWS_WITH(index_select(ga, 1, Tensor::from_vector<int64_t>({7}, {1}).to(kGpu)),
                    Catch::Contains("out of range"));
  // Indexing a middle dimension (inner > 1).
  Tensor a3 = random_tensor({3, 6, 5}, 12, DType::f32);
  Tensor c3 = a3.clone().requires_grad_(), g3 = a3.to(kGpu).requires_grad_();
  Tensor w3 = random_tensor({3, 4, 5}, 13, DType::f32);
  sum(mul(index_select(c3, 1, idx), w3)).backward();
  sum(mul(index_select(g3, 1, idx.to(kGpu)), w3.to(kGpu))).backward();
  CHECK(index_select(g3, 1, idx.to(kGpu)).to_vector<float>() == index_select(a3, 1, idx).to_vector<float>());
  EMBER_REQUIRE_CLOSE(g3.grad().to(Device::cpu()), c3.grad(), 1e-6, 1e-6);
}

TEST_CASE("cuda: a sum over 2^32 elements takes the 64-bit index path", "[gpu][big]") {
  require_gpu();
  // One float broadcast to [2^16, 2^16]: its stride-0 dims coalesce into one of 2^32 elements (4 bytes of
  // memory), too many for the 32-bit index maths. Each partial sum is a power of two: exact.
  const Tensor ones = Tensor::ones({1, 1}, DType::f32, kGpu).expand({int64_t{1} << 16, int64_t{1} << 16});
  CHECK(sum(ones).item() == 4294967296.0);
}
