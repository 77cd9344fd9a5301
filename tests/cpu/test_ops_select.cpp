// Comparisons (eq, gt, lt), where and masked_fill: broadcasting against plain loops, gradients, errors.
#include "tests/testing.h"

using namespace ember;
using ember::testing::gradcheck;
using ember::testing::random_tensor;

TEST_CASE("eq, gt, lt broadcast and give u8", "[ops][select]") {
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_vector<float>({2, 2, 7}, {3});
  CHECK(eq(a, b).dtype() == DType::u8);
  CHECK(eq(a, b).to_vector<uint8_t>() == std::vector<uint8_t>{0, 1, 0, 0, 0, 0});
  CHECK(gt(a, b).to_vector<uint8_t>() == std::vector<uint8_t>{0, 0, 0, 1, 1, 0});
  CHECK(lt(a, b).to_vector<uint8_t>() == std::vector<uint8_t>{1, 0, 1, 0, 0, 1});
  // Transposed input; i64 labels against predictions (accuracy counting).
  CHECK(gt(a.transpose(0, 1), Tensor::scalar(2.5)).to_vector<uint8_t>().size() == 6);
  CHECK(gt(a.transpose(0, 1), Tensor::scalar(2.5, DType::f32)).to_vector<uint8_t>() ==
        std::vector<uint8_t>{0, 1, 0, 1, 1, 1});
  Tensor labels = Tensor::from_vector<int64_t>({3, 1, 4, 1}, {4}),
         pred = Tensor::from_vector<int64_t>({3, 2, 4, 0}, {4});
  CHECK(eq(labels, pred).to_vector<uint8_t>() == std::vector<uint8_t>{1, 0, 1, 0});
  CHECK_THROWS_WITH(eq(a, Tensor::zeros({2}, DType::f32)),
                    Catch::Contains("eq: shapes [2, 3] and [2] do not broadcast"));
  CHECK_THROWS_WITH(lt(a, labels), Catch::Contains("lt: dtypes differ"));
}

TEST_CASE("where and masked_fill pick elementwise with broadcasting", "[ops][select]") {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor cond = Tensor::from_vector<uint8_t>({1, 0, 0, 1}, {4, 1});
    Tensor a = random_tensor({4, 3}, 1, dt), b = random_tensor({3}, 2, dt);
    std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
    std::vector<double> w = where(cond, a, b).to_vector<double>();
    const uint8_t c[] = {1, 0, 0, 1};
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 3; ++j) CHECK(w[i * 3 + j] == (c[i] ? va[i * 3 + j] : vb[j]));
    // masked_fill on a transposed tensor with a row mask.
    Tensor at = a.transpose(0, 1);  // [3, 4]
    Tensor mask = Tensor::from_vector<uint8_t>({0, 1, 1, 0}, {4});
    std::vector<double> m = masked_fill(at, mask, -7.5).to_vector<double>();
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 4; ++i) CHECK(m[j * 4 + i] == (c[i] ? va[i * 3 + j] : -7.5));
  }
  Tensor a = random_tensor({2, 3}, 3);
  CHECK_THROWS_WITH(where(Tensor::zeros({2, 3}, DType::f32), a, a), Catch::Contains("where: cond must be u8"));
  CHECK_THROWS_WITH(where(Tensor::zeros({2, 3}, DType::u8), a, random_tensor({3}, 4, DType::f32)),
                    Catch::Contains("where: dtypes differ"));
  CHECK_THROWS_WITH(where(Tensor::zeros({4, 1}, DType::u8), a, a),
                    Catch::Contains("where: shapes") && Catch::Contains("do not broadcast"));
  CHECK_THROWS_WITH(masked_fill(a, Tensor::zeros({3, 2, 3}, DType::u8), 0.0),
                    Catch::Contains("masked_fill: mask u8[3, 2, 3] on cpu does not broadcast to f64[2, 3] on cpu"));
}

TEST_CASE("gradcheck: where and masked_fill", "[ops][select][grad]") {
  Tensor cond = Tensor::from_vector<uint8_t>({1, 0, 1, 1, 0, 0}, {2, 3});
  Tensor a = random_tensor({2, 3}, 5).requires_grad_(), b = random_tensor({3}, 6).requires_grad_();
  gradcheck([&](const std::vector<Tensor>& v) { return where(cond, v[0], v[1]); }, {a, b});
  gradcheck([&](const std::vector<Tensor>& v) { return masked_fill(v[0].transpose(0, 1), cond.transpose(0, 1), 3.0); },
            {a});
}
