// matmul and linear: forward against plain loops (2-D, batched with broadcast, transposed and narrowed views),
// backward by finite differences, and argument errors.
#include "tests/testing.h"

using namespace ember;
using ember::testing::gradcheck;
using ember::testing::random_tensor;

namespace {

// Plain triple loop over each matrix of the broadcast batch.
Tensor reference_matmul(const Tensor& a, const Tensor& b) {
  Shape batch;
  const int64_t nd = std::max(a.dim(), b.dim());
  for (int64_t i = 0; i + 2 < nd; ++i) {
    const int64_t ia = i - (nd - a.dim()), ib = i - (nd - b.dim());
    batch.push_back(std::max(ia >= 0 ? a.shape()[ia] : 1, ib >= 0 ? b.shape()[ib] : 1));
  }
  const int64_t n = a.size(-2), k = a.size(-1), m = b.size(-1);
  Shape sa = batch, sb = batch, so = batch;
  sa.insert(sa.end(), {n, k});
  sb.insert(sb.end(), {k, m});
  so.insert(so.end(), {n, m});
  std::vector<double> va = a.expand(sa).to_vector<double>(), vb = b.expand(sb).to_vector<double>();
  std::vector<double> vo(static_cast<size_t>(shape_numel(so)));
  for (int64_t t = 0; t < shape_numel(batch); ++t)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) {
        double acc = 0;
        for (int64_t l = 0; l < k; ++l) acc += va[(t * n + i) * k + l] * vb[(t * k + l) * m + j];
        vo[(t * n + i) * m + j] = acc;
      }
  return Tensor::from_vector(vo, so);
}

}  // namespace

TEST_CASE("matmul matches a plain loop for 2-D, transposed, narrowed and broadcast batches", "[ops][linalg]") {
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f32 ? 1e-5 : 1e-12;
    Tensor a = random_tensor({5, 7}, 1, dt), b = random_tensor({7, 3}, 2, dt);
    EMBER_REQUIRE_CLOSE(matmul(a, b), reference_matmul(a, b), tol, tol);
    // Transposed views go to BLAS as flags; a narrowed view keeps a leading dimension larger than its width.
    Tensor at = random_tensor({7, 5}, 3, dt).transpose(0, 1), bt = random_tensor({3, 7}, 4, dt).transpose(0, 1);
    EMBER_REQUIRE_CLOSE(matmul(at, bt), reference_matmul(at, bt), tol, tol);
    Tensor an = random_tensor({5, 10}, 5, dt).narrow(1, 2, 7);
    EMBER_REQUIRE_CLOSE(matmul(an, b), reference_matmul(an, b), tol, tol);
    // A layout BLAS cannot read (every other column) is copied first.
    Tensor strided = random_tensor({5, 14}, 6, dt).view({5, 7, 2}).select(2, 1);
    EMBER_REQUIRE_CLOSE(matmul(strided, b), reference_matmul(strided, b), tol, tol);
    // Batched: [2, 3, 4, 5] x [3, 5, 6] broadcasts the leading 2; and [2, 1, 4, 5] x [3, 5, 2].
    Tensor x = random_tensor({2, 3, 4, 5}, 7, dt), y = random_tensor({3, 5, 6}, 8, dt);
    EMBER_REQUIRE_CLOSE(matmul(x, y), reference_matmul(x, y), tol, tol);
    Tensor x1 = random_tensor({2, 1, 4, 5}, 9, dt), y1 = random_tensor({3, 5, 2}, 10, dt);
    REQUIRE(matmul(x1, y1).shape() == Shape{2, 3, 4, 2});
    EMBER_REQUIRE_CLOSE(matmul(x1, y1), reference_matmul(x1, y1), tol, tol);
    // Attention-style q k^T with k a transposed view of a permuted tensor.
    Tensor q = random_tensor({2, 6, 3, 4}, 11, dt).permute({0, 2, 1, 3});   // [2, 3, 6, 4]
    Tensor kt = random_tensor({2, 6, 3, 4}, 12, dt).permute({0, 2, 3, 1});  // [2, 3, 4, 6]
    EMBER_REQUIRE_CLOSE(matmul(q, kt), reference_matmul(q, kt), tol, tol);
  }
}

TEST_CASE("matmul and linear reject bad arguments", "[ops][linalg]") {
  CHECK_THROWS_WITH(matmul(random_tensor({2, 3}, 1), random_tensor({4, 2}, 2)),
                    Catch::Contains("matmul") && Catch::Contains("[2, 3]") && Catch::Contains("[4, 2]"));
  CHECK_THROWS_WITH(matmul(random_tensor({3}, 1), random_tensor({3, 2}, 2)), Catch::Contains("at least 2 dims"));
  CHECK_THROWS_WITH(matmul(random_tensor({2, 2, 3}, 1), random_tensor({3, 3, 2}, 2)),
                    Catch::Contains("matmul") && Catch::Contains("do not broadcast"));
  CHECK_THROWS_WITH(matmul(random_tensor({2, 3}, 1, DType::f32), random_tensor({3, 2}, 2)),
                    Catch::Contains("matmul: dtypes differ"));
  CHECK_THROWS_WITH(matmul(Tensor::zeros({2, 3}, DType::i64), Tensor::zeros({3, 2}, DType::i64)),
                    Catch::Contains("matmul: needs f32 or f64"));
  CHECK_THROWS_WITH(linear(random_tensor({4, 5}, 1), random_tensor({3, 6}, 2)),
                    Catch::Contains("linear") && Catch::Contains("[4, 5]") && Catch::Contains("[3, 6]"));
  CHECK_THROWS_WITH(linear(random_tensor({4, 5}, 1), random_tensor({3, 5}, 2), random_tensor({4}, 3)),
                    Catch::Contains("linear: bias") && Catch::Contains("[4]"));
}

TEST_CASE("linear matches x W^T + b for batched and non-contiguous inputs", "[ops][linalg]") {
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f32 ? 1e-5 : 1e-12;
    Tensor x = random_tensor({2, 3, 5}, 1, dt), w = random_tensor({4, 5}, 2, dt), b = random_tensor({4}, 3, dt);
    Tensor expected = add(reference_matmul(x.reshape({6, 5}), w.transpose(0, 1)).reshape({2, 3, 4}).to(dt), b);
    EMBER_REQUIRE_CLOSE(linear(x, w, b), expected, tol, tol);
    EMBER_REQUIRE_CLOSE(linear(x, w), reference_matmul(x.reshape({6, 5}), w.transpose(0, 1)).reshape({2, 3, 4}), tol,
                        tol);
    // Weight given as the transpose of an [in, out] buffer, x as a permuted view.
    Tensor wt = random_tensor({5, 4}, 4, dt).transpose(0, 1);
    Tensor xp = random_tensor({5, 3}, 5, dt).transpose(0, 1);
    EMBER_REQUIRE_CLOSE(linear(xp, wt, b), add(reference_matmul(xp, wt.transpose(0, 1)).to(dt), b), tol, tol);
    // One vector in, one vector out.
    Tensor v = random_tensor({5}, 6, dt);
    EMBER_REQUIRE_CLOSE(linear(v, w, b),
                        add(reference_matmul(v.reshape({1, 5}), w.transpose(0, 1)).reshape({4}).to(dt), b), tol, tol);
  }
}

TEST_CASE("gradcheck: matmul and linear", "[ops][linalg][grad]") {
  Tensor a = random_tensor({3, 4}, 1).requires_grad_(), b = random_tensor({4, 2}, 2).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); }, {a, b});
  gradcheck([](const std::vector<Tensor>& v) { return matmul(v[1].transpose(0, 1), v[0].transpose(0, 1)); }, {a, b});
  Tensor x = random_tensor({2, 1, 3, 4}, 3).requires_grad_(), y = random_tensor({3, 4, 2}, 4).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return matmul(v[0], v[1]); }, {x, y});
  Tensor in = random_tensor({2, 3, 4}, 5).requires_grad_(), w = random_tensor({5, 4}, 6).requires_grad_(),
         bias = random_tensor({5}, 7).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return linear(v[0], v[1], v[2]); }, {in, w, bias});
  gradcheck([](const std::vector<Tensor>& v) { return linear(v[0].transpose(0, 1), v[1]); }, {in, w});
}
