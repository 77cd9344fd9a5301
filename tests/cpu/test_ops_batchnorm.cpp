// batch_norm: forward against the formula, running statistics exactly per the spec (momentum 0.1,
// unbiased variance) over two steps, eval with the running statistics, gradient checks, errors.
#include <cmath>

#include "tests/testing.h"

using namespace ember;
using ember::testing::gradcheck;
using ember::testing::random_tensor;

namespace {

// Per channel of x [N, C, ...]: mean and biased variance over everything but C, in double.
void channel_moments(const Tensor& x, std::vector<double>& mean, std::vector<double>& var) {
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / (N * C);
  const std::vector<double> v = x.to_vector<double>();
  mean.assign(C, 0.0);
  var.assign(C, 0.0);
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) mean[c] += v[(n * C + c) * S + s];
    mean[c] /= double(N * S);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) var[c] += std::pow(v[(n * C + c) * S + s] - mean[c], 2);
    var[c] /= double(N * S);
  }
}

// (x - mean) / sqrt(var + eps) * gamma + beta, channel by channel.
Tensor normalize_reference(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& var,
                           const Tensor& gamma, const Tensor& beta, double eps = 1e-5) {
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / (N * C);
  const std::vector<double> v = x.to_vector<double>();
  const std::vector<double> g = gamma.defined() ? gamma.to_vector<double>() : std::vector<double>(C, 1.0);
  const std::vector<double> b = beta.defined() ? beta.to_vector<double>() : std::vector<double>(C, 0.0);
  std::vector<double> y(v.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = (n * C + c) * S + s;
        y[i] = (v[i] - mean[c]) / std::sqrt(var[c] + eps) * g[c] + b[c];
      }
  return Tensor::from_vector<double>(y, x.shape());
}

}  // namespace

TEST_CASE("batch_norm training normalises with batch statistics", "[ops][batchnorm]") {
  for (const Shape& shape : {Shape{4, 3, 5, 2}, Shape{6, 4}, Shape{3, 2, 7}, Shape{8, 4, 64, 128}}) {
    INFO("x " << shape_str(shape));  // the last one is split over threads
    const Tensor x = random_tensor(shape, 200, DType::f32, -2.0, 3.0);
    const Tensor gamma = random_tensor({shape[1]}, 201, DType::f32, 0.5, 1.5);
    const Tensor beta = random_tensor({shape[1]}, 202, DType::f32);
    std::vector<double> mean, var;
    channel_moments(x, mean, var);
    EMBER_REQUIRE_CLOSE(batch_norm(x, gamma, beta, Tensor(), Tensor(), true),
                        normalize_reference(x, mean, var, gamma, beta), 1e-5, 1e-5);
    EMBER_REQUIRE_CLOSE(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true),
                        normalize_reference(x, mean, var, Tensor(), Tensor()), 1e-5, 1e-5);
  }
  // A large common offset must not cancel the variance away (statistics are shifted and in double).
  const Tensor x = add_scalar(random_tensor({16, 2, 8, 8}, 203, DType::f32), 1000.0);
  std::vector<double> mean, var;
  channel_moments(x, mean, var);
  EMBER_REQUIRE_CLOSE(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true),
                      normalize_reference(x, mean, var, Tensor(), Tensor()), 1e-3, 1e-3);
}

TEST_CASE("batch_norm running statistics follow the spec over two steps; eval uses them", "[ops][batchnorm]") {
  const int64_t C = 3;
  Tensor running_mean = Tensor::zeros({C}), running_var = Tensor::ones({C});
  const Tensor gamma = random_tensor({C}, 210, DType::f32, 0.5, 1.5), beta = random_tensor({C}, 211, DType::f32);
  std::vector<double> expect_mean(C, 0.0), expect_var(C, 1.0);
  for (uint64_t step = 0; step < 2; ++step) {
    const Tensor x = random_tensor({4, C, 3, 5}, 212 + step, DType::f32, -1.0, 2.0);
    batch_norm(x, gamma, beta, running_mean, running_var, true, 0.1, 1e-5);
    std::vector<double> mean, var;
    channel_moments(x, mean, var);
    const double n = 4 * 3 * 5;
    for (int64_t c = 0; c < C; ++c) {
      expect_mean[c] = 0.9 * expect_mean[c] + 0.1 * mean[c];
      expect_var[c] = 0.9 * expect_var[c] + 0.1 * var[c] * n / (n - 1);
    }
  }
  const std::vector<float> rm = running_mean.to_vector<float>(), rv = running_var.to_vector<float>();
  for (int64_t c = 0; c < C; ++c) {
    CHECK(rm[c] == Approx(expect_mean[c]).epsilon(1e-6).margin(1e-7));
    CHECK(rv[c] == Approx(expect_var[c]).epsilon(1e-6));
  }
  // Eval: normalises with the running statistics and leaves them untouched.
  const Tensor x = random_tensor({2, C, 4, 4}, 220, DType::f32);
  const std::vector<double> rm_d(rm.begin(), rm.end()), rv_d(rv.begin(), rv.end());
  EMBER_REQUIRE_CLOSE(batch_norm(x, gamma, beta, running_mean, running_var, false),
                      normalize_reference(x, rm_d, rv_d, gamma, beta), 1e-5, 1e-6);
  CHECK(running_mean.to_vector<float>() == rm);
  CHECK(running_var.to_vector<float>() == rv);
}

TEST_CASE("gradcheck: batch_norm in training and eval", "[ops][batchnorm][grad]") {
  const Tensor gamma = random_tensor({3}, 230, DType::f64, 0.5, 1.5).requires_grad_();
  const Tensor beta = random_tensor({3}, 231).requires_grad_();
  for (const Shape& shape : {Shape{2, 3, 3, 2}, Shape{5, 3}, Shape{3, 3, 4}}) {
    INFO("x " << shape_str(shape));
    const Tensor x = random_tensor(shape, 232).requires_grad_();
    gradcheck([](const std::vector<Tensor>& v) { return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true); },
              {x, gamma, beta});
    gradcheck([](const std::vector<Tensor>& v) { return batch_norm(v[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
              {x});
    const Tensor rm = random_tensor({3}, 233), rv = random_tensor({3}, 234, DType::f64, 0.5, 2.0);
    gradcheck([rm, rv](const std::vector<Tensor>& v) { return batch_norm(v[0], v[1], v[2], rm, rv, false); },
              {x, gamma, beta});
  }
}

TEST_CASE("batch_norm rejects bad arguments and names them", "[ops][batchnorm]") {
  const Tensor x = random_tensor({2, 3, 4, 4}, 240, DType::f32);
  CHECK_THROWS_WITH(batch_norm(x, Tensor::ones({4}), Tensor(), Tensor(), Tensor(), true),
                    Catch::Contains("weight") && Catch::Contains("[4]") && Catch::Contains("[2, 3, 4, 4]"));
  CHECK_THROWS_WITH(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false), Catch::Contains("running"));
  CHECK_THROWS_WITH(batch_norm(random_tensor({1, 3}, 241, DType::f32), Tensor(), Tensor(), Tensor(), Tensor(), true),
                    Catch::Contains("more than one value"));
  CHECK_THROWS_WITH(batch_norm(x, Tensor(), Tensor(), Tensor::zeros({3}), Tensor(), true),
                    Catch::Contains("both"));
}
