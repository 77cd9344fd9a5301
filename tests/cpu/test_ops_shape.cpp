// cat, stack, index_select and gather against plain loops; gradients (including repeated indices, which
// must accumulate); errors for mismatched shapes and out-of-range indices.
#include "tests/testing.h"

using namespace ember;
using ember::testing::gradcheck;
using ember::testing::random_tensor;

TEST_CASE("cat and stack place each input at its offset", "[ops][shape]") {
  Tensor a = random_tensor({2, 3}, 1, DType::f32), b = random_tensor({4, 2}, 2, DType::f32).transpose(0, 1);
  Tensor c = cat({a, b}, 1);  // [2, 7]
  REQUIRE(c.shape() == Shape{2, 7});
  std::vector<float> va = a.to_vector<float>(), vb = b.to_vector<float>(), vc = c.to_vector<float>();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 7; ++j) CHECK(vc[i * 7 + j] == (j < 3 ? va[i * 3 + j] : vb[i * 4 + j - 3]));
  Tensor r = cat({a, a.narrow(0, 1, 1)}, 0);
  CHECK(r.shape() == Shape{3, 3});
  CHECK(r.select(0, 2).to_vector<float>() == a.select(0, 1).to_vector<float>());
  Tensor s = stack({a, b.narrow(1, 0, 3), a}, -1);  // [2, 3, 3]
  REQUIRE(s.shape() == Shape{2, 3, 3});
  std::vector<float> vs = s.to_vector<float>(), vbn = b.narrow(1, 0, 3).to_vector<float>();
  for (int i = 0; i < 6; ++i) {
    CHECK(vs[i * 3 + 0] == va[i]);
    CHECK(vs[i * 3 + 1] == vbn[i]);
    CHECK(vs[i * 3 + 2] == va[i]);
  }
  CHECK(stack({a, a}, 0).shape() == Shape{2, 2, 3});
  CHECK_THROWS_WITH(cat({a, random_tensor({3, 3}, 3, DType::f32)}, 1),
                    Catch::Contains("cat: f32[3, 3] on cpu does not match f32[2, 3] on cpu outside dimension 1"));
  CHECK_THROWS_WITH(cat({a, random_tensor({2, 3}, 3)}, 0), Catch::Contains("cat: dtypes differ"));
  CHECK_THROWS_WITH(cat({}, 0), Catch::Contains("cat: no tensors"));
  CHECK_THROWS_WITH(stack({a, b}, 0), Catch::Contains("stack: f32[2, 4]") && Catch::Contains("[2, 3]"));
}

TEST_CASE("index_select and gather match plain loops", "[ops][shape]") {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = random_tensor({3, 4, 5}, 4, dt);
    const std::vector<double> v = x.to_vector<double>();
    std::vector<int64_t> idx = {3, 0, 3};
    std::vector<double> sel = index_select(x, 1, Tensor::from_vector(idx, {3})).to_vector<double>();
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 3; ++k)
        for (int j = 0; j < 5; ++j) CHECK(sel[(i * 3 + k) * 5 + j] == v[(i * 4 + idx[k]) * 5 + j]);
    // gather along dim 2 of a transposed view, index smaller than the input in the other dims.
    Tensor xt = x.transpose(0, 1);  // [4, 3, 5]
    std::vector<int64_t> g = {4, 0, 1, 2, 2, 2};
    Tensor out = gather(xt, 2, Tensor::from_vector(g, {2, 3, 1}));
    REQUIRE(out.shape() == Shape{2, 3, 1});
    std::vector<double> vo = out.to_vector<double>();
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 3; ++b) CHECK(vo[a * 3 + b] == v[(b * 4 + a) * 5 + g[a * 3 + b]]);
    // gather along dim 0.
    std::vector<int64_t> g0 = {2, 0, 1, 1};
    std::vector<double> v0 = gather(x, 0, Tensor::from_vector(g0, {1, 2, 2})).to_vector<double>();
    for (int b = 0; b < 2; ++b)
      for (int c = 0; c < 2; ++c) CHECK(v0[b * 2 + c] == v[(g0[b * 2 + c] * 4 + b) * 5 + c]);
  }
  Tensor x = random_tensor({3, 4}, 5);
  CHECK_THROWS_WITH(index_select(x, 0, Tensor::from_vector<int64_t>({1, 3}, {2})),
                    Catch::Contains("index_select: index 3 at position 1 is out of range [0, 3) for dimension 0"));
  CHECK_THROWS_WITH(index_select(x, 1, Tensor::from_vector<int32_t>({1}, {1})),
                    Catch::Contains("index_select: index must be i64 [K]"));
  CHECK_THROWS_WITH(gather(x, 1, Tensor::from_vector<int64_t>({0, 4}, {2, 1})),
                    Catch::Contains("gather: index 4 at position 1 is out of range [0, 4) for dimension 1"));
  CHECK_THROWS_WITH(gather(x, 1, Tensor::from_vector<int64_t>({0, 1}, {2})),
                    Catch::Contains("gather: index must be i64 with 2 dims"));
  CHECK_THROWS_WITH(gather(x, 1, Tensor::zeros({4, 1}, DType::i64)),
                    Catch::Contains("gather: index i64[4, 1] on cpu larger than f64[3, 4] on cpu in dimension 0"));
}

TEST_CASE("gradcheck: cat, stack, index_select, gather", "[ops][shape][grad]") {
  Tensor a = random_tensor({2, 3}, 6).requires_grad_(), b = random_tensor({2, 2}, 7).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return cat({v[0], v[1], v[0]}, 1); }, {a, b});
  gradcheck([](const std::vector<Tensor>& v) { return stack({v[0].narrow(1, 0, 2), v[1]}, 1); }, {a, b});
  Tensor x = random_tensor({3, 4}, 8).requires_grad_();
  gradcheck(
      [](const std::vector<Tensor>& v) {
        return index_select(v[0], 1, Tensor::from_vector<int64_t>({2, 2, 0}, {3}));
      },
      {x});
  gradcheck(
      [](const std::vector<Tensor>& v) {
        return index_select(v[0], 0, Tensor::from_vector<int64_t>({1, 1}, {2}));
      },
      {x});
  gradcheck(
      [](const std::vector<Tensor>& v) {
        return gather(v[0].transpose(0, 1), 1, Tensor::from_vector<int64_t>({0, 0, 2, 1, 2, 2}, {2, 3}));
      },
      {x});
}
