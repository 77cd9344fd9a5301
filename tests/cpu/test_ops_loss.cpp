// softmax, log_softmax, cross_entropy and focal_loss: plain-loop references, hand-computed values
// (label smoothing, class weights, each reduction), finite-difference gradients and argument errors.
#include "tests/testing.h"

using namespace ember;
using ember::testing::gradcheck;
using ember::testing::random_tensor;

namespace {

// Softmax of a [outer, n, inner] contiguous buffer along n, by the textbook formula (no max shift).
std::vector<double> reference_softmax(const std::vector<double>& x, int64_t outer, int64_t n, int64_t inner, bool log) {
  std::vector<double> y(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double s = 0;
      for (int64_t c = 0; c < n; ++c) s += std::exp(x[(o * n + c) * inner + i]);
      for (int64_t c = 0; c < n; ++c) {
        const double p = std::exp(x[(o * n + c) * inner + i]) / s;
        y[(o * n + c) * inner + i] = log ? std::log(p) : p;
      }
    }
  return y;
}

// PyTorch's cross_entropy written out per row: -(1-e) w[y] log p_y - (e/C) sum_c w[c] log p_c.
std::vector<double> reference_ce_rows(const Tensor& logits, const std::vector<int64_t>& y, const std::vector<double>& w,
                                      double e) {
  const int64_t N = logits.size(0), C = logits.size(1);
  std::vector<double> logp = reference_softmax(logits.to_vector<double>(), N, C, 1, true), rows(N);
  for (int64_t i = 0; i < N; ++i) {
    double smooth = 0;
    for (int64_t c = 0; c < C; ++c) smooth += w[c] * -logp[i * C + c];
    rows[i] = (1 - e) * w[y[i]] * -logp[i * C + y[i]] + e / C * smooth;
  }
  return rows;
}

}  // namespace

TEST_CASE("softmax and log_softmax match the textbook formula along any dim", "[ops][loss]") {
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f32 ? 1e-6 : 1e-13;
    Tensor x = random_tensor({2, 3, 4}, 1, dt, -5, 5);
    const std::vector<double> v = x.to_vector<double>();
    for (bool log : {false, true}) {
      Tensor last = log ? log_softmax(x, -1) : softmax(x, -1);
      Tensor middle = log ? log_softmax(x, 1) : softmax(x, 1);
      EMBER_REQUIRE_CLOSE(last, Tensor::from_vector(reference_softmax(v, 6, 4, 1, log), {2, 3, 4}), tol, tol);
      EMBER_REQUIRE_CLOSE(middle, Tensor::from_vector(reference_softmax(v, 2, 3, 4, log), {2, 3, 4}), tol, tol);
      // A transposed input: softmax over its last dim is softmax over dim 1 of the contiguous [2, 4, 3].
      Tensor xt = random_tensor({2, 4, 3}, 2, dt, -5, 5);
      Tensor got = log ? log_softmax(xt.transpose(1, 2), -1) : softmax(xt.transpose(1, 2), -1);
      Tensor want = Tensor::from_vector(reference_softmax(xt.to_vector<double>(), 2, 4, 3, log), {2, 4, 3});
      EMBER_REQUIRE_CLOSE(got, want.transpose(1, 2), tol, tol);
    }
  }
  // Large logits do not overflow (max subtraction).
  Tensor big = Tensor::from_vector<float>({1000.0f, 1001.0f}, {2});
  CHECK(softmax(big).to_vector<float>()[1] == Approx(1 / (1 + std::exp(-1.0))));
  CHECK_THROWS_WITH(softmax(random_tensor({2, 3}, 1), 2), Catch::Contains("softmax: dimension 2 out of range"));
  CHECK_THROWS_WITH(log_softmax(Tensor::zeros({3}, DType::i64)), Catch::Contains("log_softmax: needs f32 or f64"));
}

TEST_CASE("gradcheck: softmax and log_softmax", "[ops][loss][grad]") {
  Tensor x = random_tensor({3, 4}, 3, DType::f64, -2, 2).requires_grad_();
  Tensor y = random_tensor({2, 3, 2}, 4, DType::f64, -2, 2).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return softmax(v[0], -1); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return log_softmax(v[0], 0); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return softmax(v[0].transpose(0, 2), 1); }, {y});
  gradcheck([](const std::vector<Tensor>& v) { return log_softmax(v[0], 1); }, {y});
}

TEST_CASE("cross_entropy: hand-computed values with label smoothing, class weights and reductions", "[ops][loss]") {
  // lse(1, 2, 3) = 3 + ln(1 + e^-1 + e^-2) = 3.4076059644; target 0 -> 2.4076059644 (PyTorch gives the same).
  Tensor l = Tensor::from_vector<float>({1, 2, 3}, {1, 3});
  Tensor t0 = Tensor::from_vector<int64_t>({0}, {1});
  CHECK(cross_entropy(l, t0).item() == Approx(2.4076059644).epsilon(1e-6));

  // Uniform logits: -log p_c = ln 4 for every class. Weights [1, 2, 3, 4], targets [1, 3], smoothing 0.2:
  // loss_i = ln4 * (0.8 w[y_i] + 0.2/4 * 10) -> ln4 * 2.1 and ln4 * 3.7; mean divides by w[1] + w[3] = 6.
  const double ln4 = std::log(4.0);
  Tensor zeros = Tensor::zeros({2, 4}, DType::f64);
  Tensor targets = Tensor::from_vector<int64_t>({1, 3}, {2});
  CrossEntropyOptions o;
  o.label_smoothing = 0.2;
  o.class_weights = Tensor::from_vector<double>({1, 2, 3, 4}, {4});
  o.reduction = Reduction::none;
  EMBER_REQUIRE_CLOSE(cross_entropy(zeros, targets, o), Tensor::from_vector<double>({ln4 * 2.1, ln4 * 3.7}, {2}), 1e-14,
                      1e-14);
  o.reduction = Reduction::sum;
  CHECK(cross_entropy(zeros, targets, o).item() == Approx(ln4 * 5.8));
  o.reduction = Reduction::mean;
  CHECK(cross_entropy(zeros, targets, o).item() == Approx(ln4 * 5.8 / 6));
  CHECK(cross_entropy(zeros, targets, o).dim() == 0);
}

TEST_CASE("cross_entropy matches PyTorch's formula on random inputs", "[ops][loss]") {
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f32 ? 2e-6 : 1e-12;
    Tensor logits = random_tensor({5, 7}, 5, dt, -4, 4);
    std::vector<int64_t> y = {0, 6, 3, 3, 2};
    Tensor targets = Tensor::from_vector(y, {5});
    std::vector<double> w = {0.5, 1, 2, 0.1, 3, 1.5, 0.7}, ones(7, 1.0);
    for (double e : {0.0, 0.1}) {
      for (bool weighted : {false, true}) {
        CrossEntropyOptions o;
        o.label_smoothing = e;
        if (weighted) o.class_weights = Tensor::from_vector(w, {7}).to(dt);
        const std::vector<double> rows = reference_ce_rows(logits, y, weighted ? w : ones, e);
        double total = 0, denominator = 0;
        for (int i = 0; i < 5; ++i) {
          total += rows[i];
          denominator += weighted ? w[y[i]] : 1;
        }
        o.reduction = Reduction::none;
        EMBER_REQUIRE_CLOSE(cross_entropy(logits, targets, o), Tensor::from_vector(rows, {5}), tol, tol);
        o.reduction = Reduction::sum;
        CHECK(cross_entropy(logits, targets, o).item() == Approx(total).epsilon(tol));
        o.reduction = Reduction::mean;
        CHECK(cross_entropy(logits, targets, o).item() == Approx(total / denominator).epsilon(tol));
        // Non-contiguous logits give the same result.
        Tensor lt = logits.transpose(0, 1).contiguous().transpose(0, 1);
        CHECK(cross_entropy(lt, targets, o).item() == Approx(total / denominator).epsilon(tol));
      }
    }
  }
}

TEST_CASE("gradcheck: cross_entropy with every reduction, smoothing and weights", "[ops][loss][grad]") {
  Tensor logits = random_tensor({4, 5}, 6, DType::f64, -2, 2).requires_grad_();
  Tensor targets = Tensor::from_vector<int64_t>({4, 0, 2, 2}, {4});
  Tensor w = Tensor::from_vector<double>({0.3, 1.0, 2.0, 0.5, 1.2}, {5});
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none})
    for (double e : {0.0, 0.25})
      for (bool weighted : {false, true}) {
        CrossEntropyOptions o;
        o.reduction = r;
        o.label_smoothing = e;
        if (weighted) o.class_weights = w;
        gradcheck([&](const std::vector<Tensor>& v) { return cross_entropy(v[0], targets, o); }, {logits});
      }
  Tensor wide = random_tensor({2, 9}, 7, DType::f64, -3, 3).requires_grad_();
  CrossEntropyOptions o;
  o.label_smoothing = 0.1;
  gradcheck(
      [&](const std::vector<Tensor>& v) {
        return cross_entropy(v[0], Tensor::from_vector<int64_t>({8, 1}, {2}), o);
      },
      {wide});
}

TEST_CASE("cross_entropy and focal_loss reject bad targets and shapes", "[ops][loss]") {
  Tensor logits = random_tensor({3, 4}, 1);
  CHECK_THROWS_WITH(cross_entropy(logits, Tensor::from_vector<int64_t>({0, 4, 1}, {3})),
                    Catch::Contains("cross_entropy: target 4 at index 1 is out of range [0, 4)"));
  CHECK_THROWS_WITH(cross_entropy(logits, Tensor::from_vector<int64_t>({0, 1, -1}, {3})),
                    Catch::Contains("target -1 at index 2"));
  CHECK_THROWS_WITH(cross_entropy(logits, Tensor::from_vector<int64_t>({0, 1}, {2})),
                    Catch::Contains("cross_entropy: targets must be i64 [3]") && Catch::Contains("[3, 4]"));
  CHECK_THROWS_WITH(cross_entropy(logits, Tensor::from_vector<int32_t>({0, 1, 2}, {3})),
                    Catch::Contains("targets must be i64"));
  CHECK_THROWS_WITH(cross_entropy(random_tensor({3}, 1), Tensor::from_vector<int64_t>({0, 1, 2}, {3})),
                    Catch::Contains("cross_entropy: logits must be [N, C]"));
  CrossEntropyOptions o;
  o.class_weights = random_tensor({3}, 2);
  CHECK_THROWS_WITH(cross_entropy(logits, Tensor::from_vector<int64_t>({0, 1, 2}, {3}), o),
                    Catch::Contains("class_weights f64[3]") && Catch::Contains("4 classes"));
  CHECK_THROWS_WITH(focal_loss(logits, Tensor::from_vector<int64_t>({0, 1, 9}, {3})),
                    Catch::Contains("focal_loss: target 9 at index 2"));
}

TEST_CASE("focal_loss matches -alpha_t (1 - p_t)^gamma log p_t", "[ops][loss]") {
  Tensor logits = random_tensor({4, 3}, 8, DType::f64, -3, 3);
  std::vector<int64_t> y = {2, 0, 1, 1};
  Tensor targets = Tensor::from_vector(y, {4});
  std::vector<double> alpha = {0.25, 1.0, 2.0};
  const std::vector<double> p = reference_softmax(logits.to_vector<double>(), 4, 3, 1, false);
  CrossEntropyOptions o;
  o.class_weights = Tensor::from_vector(alpha, {3});
  o.reduction = Reduction::none;
  std::vector<double> want(4);
  double mean_want = 0;
  for (int i = 0; i < 4; ++i) {
    const double pt = p[i * 3 + y[i]];
    want[i] = -alpha[y[i]] * std::pow(1 - pt, 1.5) * std::log(pt);
    mean_want += want[i] / 4;
  }
  EMBER_REQUIRE_CLOSE(focal_loss(logits, targets, 1.5, o), Tensor::from_vector(want, {4}), 1e-12, 1e-12);
  o.reduction = Reduction::mean;
  CHECK(focal_loss(logits, targets, 1.5, o).item() == Approx(mean_want).epsilon(1e-12));
  // gamma = 0 and no weights: plain cross-entropy.
  CHECK(focal_loss(logits, targets, 0.0).item() == Approx(cross_entropy(logits, targets).item()).epsilon(1e-12));
  Tensor lp = logits.clone().requires_grad_();
  gradcheck([&](const std::vector<Tensor>& v) { return focal_loss(v[0], targets, 2.0, o); }, {lp});
  gradcheck([&](const std::vector<Tensor>& v) { return focal_loss(v[0], targets, 0.0); }, {lp});
}
