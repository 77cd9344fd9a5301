// Tensor layout, views and copies; autograd mechanics (accumulation, shared subgraphs, no_grad, hooks).
#include <cmath>
#include <limits>

#include "tests/testing.h"

using namespace ember;
using ember::testing::gradcheck;
using ember::testing::random_tensor;

TEST_CASE("views share storage and follow strides", "[tensor]") {
  Tensor t = Tensor::arange(24, DType::f32).reshape({2, 3, 4});
  CHECK(t.is_contiguous());
  Tensor p = t.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK_FALSE(p.is_contiguous());
  CHECK(p.storage() == t.storage());
  // p[1, 1, 2] = t[1, 2, 1] = 1*12 + 2*4 + 1
  CHECK(p.contiguous().to_vector<float>()[1 * 6 + 1 * 3 + 2] == 21.0f);
  Tensor n = t.narrow(2, 1, 2);
  CHECK(n.to_vector<float>() == std::vector<float>{1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22});
  Tensor e = Tensor::arange(3, DType::f32).reshape({3, 1}).expand({3, 4});
  CHECK(e.strides() == Shape{1, 0});
  CHECK(e.contiguous().to_vector<float>() == std::vector<float>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2});
  CHECK_THROWS_WITH(t.view({5, 5}), Catch::Contains("cannot view") && Catch::Contains("[2, 3, 4]"));
  CHECK_THROWS_WITH(p.view({24}), Catch::Contains("use reshape"));
  CHECK(p.reshape({24}).numel() == 24);
}

TEST_CASE("dtype conversion round trips and bf16 rounds to nearest even", "[tensor]") {
  Tensor f = Tensor::from_vector<float>({1.0f, 1.00390625f, 1.01171875f, -3.5f}, {4});
  std::vector<float> back = f.to(DType::bf16).to(DType::f32).to_vector<float>();
  // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: ties to even -> 1.
  CHECK(back == std::vector<float>{1.0f, 1.0f, 1.015625f, -3.5f});
  CHECK(f.to(DType::i64).to_vector<int64_t>() == std::vector<int64_t>{1, 1, 1, -3});
}

TEST_CASE("the vectorised f32 <-> bf16 casts round like ember::bf16, NaN and infinity included", "[tensor]") {
  // Dense same-layout copies take kernels/cpu/cast.h; strided ones the element-wise conversion of dtype.h.
  std::vector<float> values{0.f,
                            -0.f,
                            1.f,
                            1.00390625f,
                            1.01171875f,
                            3.0e38f,
                            -3.4e38f,
                            1e-40f,
                            -1e-45f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(),
                            -std::numeric_limits<float>::signaling_NaN()};
  Generator gen(3, RandomPurpose::init);
  const std::vector<float> random = rand_uniform({100000}, -1e4, 1e4, gen, DType::f32).to_vector<float>();
  values.insert(values.end(), random.begin(), random.end());
  const Tensor f = Tensor::from_vector<float>(values, {static_cast<int64_t>(values.size())});
  const Tensor fast = f.to(DType::bf16);                                       // contiguous: cast.h
  const Tensor plain = f.expand({2, f.numel()}).to(DType::bf16).select(0, 1);  // broadcast: element-wise
  const uint16_t* a = reinterpret_cast<const uint16_t*>(fast.raw_data());
  const uint16_t* b = reinterpret_cast<const uint16_t*>(plain.contiguous().raw_data());
  for (size_t i = 0; i < values.size(); ++i) {
    INFO("value " << values[i]);
    REQUIRE(a[i] == b[i]);
    REQUIRE(a[i] == bf16(values[i]).bits);
  }
  const std::vector<float> up = fast.to(DType::f32).to_vector<float>(), up_plain = plain.to_vector<float>();
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(up_plain[i])) REQUIRE(std::isnan(up[i]));
    else REQUIRE(up[i] == up_plain[i]);
  }
}

TEST_CASE("broadcasting binary ops match a plain loop", "[ops][elementwise]") {
  Tensor a = random_tensor({3, 1, 5}, 1), b = random_tensor({4, 1}, 2);
  Tensor c = add(a, b);
  REQUIRE(c.shape() == Shape{3, 4, 5});
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>(), vc = c.to_vector<double>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 5; ++k) CHECK(vc[(i * 4 + j) * 5 + k] == va[i * 5 + k] + vb[j]);
  CHECK_THROWS_WITH(add(random_tensor({3, 2}, 1), random_tensor({3}, 2)), Catch::Contains("do not broadcast"));
  CHECK_THROWS_WITH(add(random_tensor({3}, 1, DType::f32), random_tensor({3}, 2)), Catch::Contains("dtypes differ"));
}

TEST_CASE("gradcheck: binary ops with broadcasting and non-contiguous inputs", "[ops][elementwise][grad]") {
  Tensor a = random_tensor({3, 4}, 3).requires_grad_();
  Tensor b = random_tensor({4}, 4, DType::f64, 0.5, 2.0).requires_grad_();
  gradcheck([](const std::vector<Tensor>& x) { return add(x[0], x[1]); }, {a, b});
  gradcheck([](const std::vector<Tensor>& x) { return sub(x[0].transpose(0, 1), x[1].unsqueeze(1)); }, {a, b});
  gradcheck([](const std::vector<Tensor>& x) { return mul(x[0], x[1]); }, {a, b});
  gradcheck([](const std::vector<Tensor>& x) { return div(x[0], x[1]); }, {a, b});
}

TEST_CASE("gradcheck: unary ops", "[ops][elementwise][grad]") {
  Tensor x = random_tensor({2, 5}, 5).requires_grad_();
  Tensor pos = random_tensor({2, 5}, 6, DType::f64, 0.2, 2.0).requires_grad_();
  using F = Tensor (*)(const Tensor&);
  for (F f : {F(neg), F(exp), F(tanh), F(sigmoid), F(gelu), F(relu), F(abs)})
    gradcheck([f](const std::vector<Tensor>& v) { return f(v[0]); }, {x});
  for (F f : {F(log), F(sqrt)}) gradcheck([f](const std::vector<Tensor>& v) { return f(v[0]); }, {pos});
  gradcheck([](const std::vector<Tensor>& v) { return pow_scalar(v[0], 2.5); }, {pos});
  gradcheck([](const std::vector<Tensor>& v) { return clamp(v[0], -0.3, 0.4); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return add_scalar(mul_scalar(v[0], 3.0), 1.0); }, {x});
}

TEST_CASE("unary forward against std:: reference", "[ops][elementwise]") {
  Tensor x = random_tensor({64}, 7, DType::f32, -3, 3);
  std::vector<float> v = x.to_vector<float>();
  std::vector<float> g = gelu(x).to_vector<float>(), s = sigmoid(x).to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i) {
    CHECK(g[i] == Approx(0.5 * v[i] * (1 + std::erf(v[i] / std::sqrt(2.0)))).epsilon(1e-6).margin(1e-7));
    CHECK(s[i] == Approx(1 / (1 + std::exp(-double(v[i])))).epsilon(1e-6));
  }
}

TEST_CASE("gradcheck: views", "[autograd][grad]") {
  Tensor x = random_tensor({2, 3, 4}, 8).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return v[0].permute({2, 0, 1}).reshape({4, 6}); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return v[0].narrow(1, 1, 2); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return v[0].select(2, -1); }, {x});
  Tensor y = random_tensor({3, 1}, 9).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return v[0].expand({2, 3, 4}); }, {y});
  gradcheck([](const std::vector<Tensor>& v) { return sum(v[0], {0, 2}, true); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return sum_to(v[0], {3, 1}); }, {x});
}

TEST_CASE("autograd: accumulation, shared subgraphs and no_grad", "[autograd]") {
  Tensor x = Tensor::from_vector<double>({1.0, 2.0, 3.0}, {3}).requires_grad_();
  Tensor y = mul(x, x);       // used twice below
  Tensor z = sum(add(y, y));  // dz/dx = 4x
  z.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{4, 8, 12});
  sum(x).backward();  // accumulates
  CHECK(x.grad().to_vector<double>() == std::vector<double>{5, 9, 13});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  {
    NoGradGuard ng;
    Tensor w = mul(x, x);
    CHECK_FALSE(w.requires_grad());
  }
  Tensor d = mul(x.detach(), x);
  sum(d).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{1, 2, 3});
  CHECK_THROWS_WITH(mul(x, x).backward(), Catch::Contains("one-element"));
}

TEST_CASE("autograd: grad-ready hooks fire once, after the last use, in reverse order of use", "[autograd]") {
  Tensor a = random_tensor({2}, 10).requires_grad_();
  Tensor b = random_tensor({2}, 11).requires_grad_();
  std::vector<std::string> order;
  a.register_grad_ready_hook([&](const Tensor& g) {
    CHECK(g.grad().defined());
    order.push_back("a");
  });
  b.register_grad_ready_hook([&](const Tensor&) { order.push_back("b"); });
  // a is used first and last; its gradient is final only when both uses have been processed.
  Tensor h = mul(a, Tensor::full({2}, 2.0, DType::f64));
  Tensor out = sum(add(mul(h, b), a));
  out.backward();
  CHECK(order == std::vector<std::string>{"b", "a"});
}

TEST_CASE("channels_last layouts: creation, detection, dense and in_layout", "[tensor][layout]") {
  const Tensor cl = Tensor::empty({2, 3, 4, 5}, DType::f32, Device::cpu(), Layout::channels_last);
  CHECK(cl.strides() == Shape{60, 1, 15, 3});  // stored [N, H, W, C]
  CHECK(cl.is_channels_last());
  CHECK_FALSE(cl.is_contiguous());
  CHECK(cl.dense_layout() == Layout::channels_last);
  CHECK(cl.dense().strides() == cl.strides());  // kept, not copied
  CHECK(Tensor::empty_like(cl, DType::bf16).is_channels_last());
  // Dims of size 1: both layouts are the same memory, which counts as contiguous.
  const Tensor one_pixel = Tensor::empty({2, 3, 1, 1}, DType::f32, Device::cpu(), Layout::channels_last);
  CHECK(one_pixel.is_contiguous());
  CHECK_FALSE(one_pixel.is_channels_last());
  // A permuted view that is neither: dense() copies to contiguous.
  const Tensor x = Tensor::arange(120, DType::f32).reshape({2, 3, 4, 5});
  const Tensor odd = x.permute({0, 2, 1, 3});
  CHECK_FALSE(odd.is_channels_last());
  CHECK(odd.dense().is_contiguous());
  // in_layout moves values, both ways, and carries the gradient.
  const Tensor leaf = x.clone().requires_grad_();
  const Tensor moved = leaf.in_layout(Layout::channels_last);
  CHECK(moved.is_channels_last());
  CHECK(moved.to_vector<float>() == x.to_vector<float>());
  CHECK(moved.in_layout(Layout::contiguous).is_contiguous());
  sum(mul(moved, moved)).backward();
  CHECK(leaf.grad().to_vector<float>() == mul_scalar(x, 2).to_vector<float>());
  CHECK_THROWS_WITH(Tensor::empty({2, 3, 4}, DType::f32, Device::cpu(), Layout::channels_last),
                    Catch::Contains("channels_last needs [N, C, H, W]") && Catch::Contains("[2, 3, 4]"));
  CHECK_THROWS_WITH(Tensor::arange(6, DType::f32).in_layout(Layout::channels_last),
                    Catch::Contains("in_layout: channels_last needs a 4-D tensor"));
}
