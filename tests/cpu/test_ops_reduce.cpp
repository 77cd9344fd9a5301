// mean, var, max (with indices and overall) and argmax against plain loops; gradients; errors.
#include "tests/testing.h"

using namespace ember;
using ember::testing::gradcheck;
using ember::testing::random_tensor;

TEST_CASE("mean and var over dims match plain loops", "[ops][reduce]") {
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f32 ? 1e-5 : 1e-12;
    Tensor x = random_tensor({3, 4, 5}, 1, dt, -2, 3);
    const std::vector<double> v = x.to_vector<double>();
    // Over dims {0, 2}: 15 elements per j.
    std::vector<double> m(4, 0), vb(4, 0);
    for (int j = 0; j < 4; ++j) {
      for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 5; ++k) m[j] += v[(i * 4 + j) * 5 + k] / 15;
      for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 5; ++k) vb[j] += std::pow(v[(i * 4 + j) * 5 + k] - m[j], 2);
    }
    std::vector<double> biased(4), unbiased(4);
    for (int j = 0; j < 4; ++j) {
      biased[j] = vb[j] / 15;
      unbiased[j] = vb[j] / 14;
    }
    EMBER_REQUIRE_CLOSE(mean(x, {0, -1}), Tensor::from_vector(m, {4}), tol, tol);
    EMBER_REQUIRE_CLOSE(mean(x, {0, 2}, true), Tensor::from_vector(m, {1, 4, 1}), tol, tol);
    EMBER_REQUIRE_CLOSE(var(x, {2, 0}, false), Tensor::from_vector(biased, {4}), tol, tol);
    EMBER_REQUIRE_CLOSE(var(x, {0, 2}, true, true), Tensor::from_vector(unbiased, {1, 4, 1}), tol, tol);
    double all = 0;
    for (double e : v) all += e / 60;
    CHECK(mean(x).item() == Approx(all).epsilon(tol));
    // Non-contiguous input: mean over dim 1 of the transposed tensor is the mean over dim 0 of x.
    EMBER_REQUIRE_CLOSE(mean(x.transpose(0, 1), {1}), mean(x, {0}), tol, tol);
  }
  CHECK_THROWS_WITH(mean(random_tensor({2, 3}, 1), {2}), Catch::Contains("mean: dimension 2 out of range"));
  CHECK_THROWS_WITH(var(Tensor::zeros({3}, DType::i64)), Catch::Contains("var: needs f32 or f64"));
}

TEST_CASE("max with indices, max overall and argmax match plain loops", "[ops][reduce]") {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = random_tensor({3, 4, 5}, 2, dt);
    const std::vector<double> v = x.to_vector<double>();
    auto [values, indices] = max(x, 1);
    REQUIRE(values.shape() == Shape{3, 5});
    REQUIRE(indices.dtype() == DType::i64);
    std::vector<double> got_v = values.to_vector<double>();
    std::vector<int64_t> got_i = indices.to_vector<int64_t>(), arg = argmax(x, -2).to_vector<int64_t>();
    for (int i = 0; i < 3; ++i)
      for (int k = 0; k < 5; ++k) {
        int best = 0;
        for (int j = 1; j < 4; ++j)
          if (v[(i * 4 + j) * 5 + k] > v[(i * 4 + best) * 5 + k]) best = j;
        CHECK(got_i[i * 5 + k] == best);
        CHECK(arg[i * 5 + k] == best);
        CHECK(got_v[i * 5 + k] == v[(i * 4 + best) * 5 + k]);
      }
    CHECK(max(x, 2, true).first.shape() == Shape{3, 4, 1});
    CHECK(argmax(x, 0, true).shape() == Shape{1, 4, 5});
    CHECK(max(x).item() == *std::max_element(v.begin(), v.end()));
    // Non-contiguous: argmax over the last dim of the transpose is argmax over dim 1.
    CHECK(argmax(x.transpose(1, 2), -1).to_vector<int64_t>() == got_i);
  }
  // Ties: the first maximum wins.
  Tensor tie = Tensor::from_vector<float>({1, 3, 3, 2}, {4});
  CHECK(argmax(tie, 0).item() == 1);
  CHECK_THROWS_WITH(max(Tensor::zeros({2, 0}), 1), Catch::Contains("max: dimension 1") && Catch::Contains("empty"));
  CHECK_THROWS_WITH(argmax(random_tensor({2}, 1), 1), Catch::Contains("argmax: dimension 1 out of range"));
}

TEST_CASE("gradcheck: mean, var and max", "[ops][reduce][grad]") {
  Tensor x = random_tensor({3, 4}, 3).requires_grad_();
  Tensor y = random_tensor({2, 3, 2}, 4).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return mean(v[0], {1}); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return mean(v[0]); }, {y});
  gradcheck([](const std::vector<Tensor>& v) { return var(v[0], {0}); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return var(v[0], {0, 2}, false, true); }, {y});
  gradcheck([](const std::vector<Tensor>& v) { return max(v[0], 1).first; }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return max(v[0].transpose(0, 2), 0, true).first; }, {y});
  gradcheck([](const std::vector<Tensor>& v) { return max(v[0]); }, {y});
}
