// batch_norm: forward against the formula, running statistics exactly per the spec (momentum 0.1,
// unbiased variance) over two steps, eval with the running statistics, gradient checks, errors.
#include <cmath>
#include <memory>

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

TEST_CASE("batch_norm running statistics follow the spec over two steps, eval uses them", "[ops][batchnorm]") {
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
    gradcheck(
        [](const std::vector<Tensor>& v) { return batch_norm(v[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
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
  CHECK_THROWS_WITH(batch_norm(x, Tensor(), Tensor(), Tensor::zeros({3}), Tensor(), true), Catch::Contains("both"));
}

// Synchronized batch norm (a `reduce` given): two ranks holding the same x are simulated by a reduce that
// doubles the sums; they must compute what one process computes on x concatenated with itself.
TEST_CASE("synchronized batch_norm over 2 equal ranks equals the doubled batch", "[ops][batchnorm][sync_bn]") {
  const int64_t C = 3;
  const Shape shape{4, C, 3, 5};
  const Tensor gamma = random_tensor({C}, 250, DType::f32, 0.5, 1.5), beta = random_tensor({C}, 251, DType::f32);
  Tensor rm_sync = Tensor::zeros({C}), rv_sync = Tensor::ones({C});
  Tensor rm_cat = Tensor::zeros({C}), rv_cat = Tensor::ones({C});
  int calls = 0;
  const BatchNormReduce two_ranks = [&calls](Tensor& t) {
    ++calls;
    t.copy_(mul_scalar(t, 2.0));
  };
  for (uint64_t step = 0; step < 2; ++step) {
    INFO("step " << step);
    // An offset of 50 checks the sums (unshifted, in double) do not cancel the variance away.
    const Tensor x = add_scalar(random_tensor(shape, 252 + step, DType::f32, -2.0, 3.0), 50.0 * step);
    const Tensor dy = random_tensor(shape, 254 + step, DType::f32);
    const Tensor w = gamma.clone().requires_grad_(), b = beta.clone().requires_grad_();
    const Tensor xs = x.clone().requires_grad_();
    calls = 0;
    const Tensor y = batch_norm(xs, w, b, rm_sync, rv_sync, true, 0.1, 1e-5, two_ranks);
    CHECK(calls == 1);
    sum(mul(y, dy)).backward();
    CHECK(calls == 2);

    const Tensor w2 = gamma.clone().requires_grad_(), b2 = beta.clone().requires_grad_();
    const Tensor x2 = cat({x, x}, 0).requires_grad_();
    const Tensor y2 = batch_norm(x2, w2, b2, rm_cat, rv_cat, true);
    sum(mul(y2, cat({dy, dy}, 0))).backward();

    EMBER_REQUIRE_CLOSE(y, y2.narrow(0, 0, shape[0]), 1e-5, 1e-5);
    EMBER_REQUIRE_CLOSE(xs.grad(), x2.grad().narrow(0, 0, shape[0]), 1e-4, 1e-5);
    // dweight, dbias are this rank's own: the data-parallel average of the 2 ranks' equals the joint batch's / 2.
    EMBER_REQUIRE_CLOSE(mul_scalar(w.grad(), 2.0), w2.grad(), 1e-4, 1e-5);
    EMBER_REQUIRE_CLOSE(mul_scalar(b.grad(), 2.0), b2.grad(), 1e-5, 1e-5);
    // Running variance unbiased over the joint 2 x 60 values, not this rank's 60.
    EMBER_REQUIRE_CLOSE(rm_sync, rm_cat, 1e-6, 1e-6);
    EMBER_REQUIRE_CLOSE(rv_sync, rv_cat, 1e-6, 1e-6);
  }
  // Eval uses the running statistics and never reduces.
  calls = 0;
  const Tensor x = random_tensor(shape, 260, DType::f32);
  EMBER_REQUIRE_CLOSE(batch_norm(x, gamma, beta, rm_sync, rv_sync, false, 0.1, 1e-5, two_ranks),
                      batch_norm(x, gamma, beta, rm_sync, rv_sync, false), 0.0, 0.0);
  CHECK(calls == 0);
}

namespace {

// A reduce that adds the sums of another rank holding `other` whose output gradient is `other_dy`: in forward
// [sum x, sum x^2, count] of `other`; in backward [sum dy, sum dy (x - mean)] with the joint mean it saw in
// forward. other_dy zero: the other rank's outputs are not part of the function being differentiated.
BatchNormReduce with_other_rank(const Tensor& other, const Tensor& other_dy) {
  const int64_t N = other.size(0), C = other.size(1), S = other.numel() / (N * C);
  auto mean = std::make_shared<std::vector<double>>(C);
  return [x = other.to_vector<double>(), dy = other_dy.to_vector<double>(), N, C, S, mean](Tensor& t) {
    const bool forward = t.numel() == 2 * C + 1;
    std::vector<double> sums(t.numel(), 0.0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t s = 0; s < S; ++s) {
          const int64_t i = (n * C + c) * S + s;
          sums[c] += forward ? x[i] : dy[i];
          sums[C + c] += forward ? x[i] * x[i] : dy[i] * (x[i] - (*mean)[c]);
        }
    if (forward) sums[2 * C] = static_cast<double>(N * S);
    t.copy_(add(t, Tensor::from_vector<double>(sums, t.shape())));
    if (forward)
      for (int64_t c = 0; c < C; ++c) (*mean)[c] = t.to_vector<double>()[c] / t.to_vector<double>()[2 * C];
  };
}

}  // namespace

TEST_CASE("synchronized batch_norm with another rank equals the joint batch, gradcheck",
          "[ops][batchnorm][sync_bn][grad]") {
  const Shape shape{2, 3, 3, 2}, other_shape{3, 3, 3, 2};  // this rank 2 samples, the other 3
  const Tensor gamma = random_tensor({3}, 270, DType::f64, 0.5, 1.5).requires_grad_();
  const Tensor beta = random_tensor({3}, 271).requires_grad_();
  const Tensor x = random_tensor(shape, 272).requires_grad_(), dy = random_tensor(shape, 274);
  const Tensor other = random_tensor(other_shape, 273, DType::f64, 0.0, 4.0),
               other_dy = random_tensor(other_shape, 275);
  // Forward against the formula with the moments of both ranks' samples.
  std::vector<double> mean, var;
  channel_moments(cat({x.detach(), other}, 0), mean, var);
  const Tensor y = batch_norm(x, gamma, beta, Tensor(), Tensor(), true, 0.1, 1e-5, with_other_rank(other, other_dy));
  EMBER_REQUIRE_CLOSE(y, normalize_reference(x.detach(), mean, var, gamma, beta), 1e-10, 1e-10);
  // dx includes the other rank's output gradient (through the joint statistics): as on the joint batch.
  sum(mul(y, dy)).backward();
  const Tensor joint = cat({x.detach(), other}, 0).requires_grad_();
  sum(mul(batch_norm(joint, gamma.detach(), beta.detach(), Tensor(), Tensor(), true), cat({dy, other_dy}, 0)))
      .backward();
  EMBER_REQUIRE_CLOSE(x.grad(), joint.grad().narrow(0, 0, shape[0]), 1e-10, 1e-10);
  // The gradient of this rank's outputs alone, by finite differences.
  const BatchNormReduce reduce = with_other_rank(other, Tensor::zeros(other_shape, DType::f64));
  gradcheck(
      [reduce](const std::vector<Tensor>& v) {
        return batch_norm(v[0], v[1], v[2], Tensor(), Tensor(), true, 0.1, 1e-5, reduce);
      },
      {x.detach().clone().requires_grad_(), gamma.detach().clone().requires_grad_(),
       beta.detach().clone().requires_grad_()});
}
