// max_pool2d, avg_pool2d, adaptive_avg_pool2d against nested-loop references written from PyTorch's
// definitions, gradient checks in f64, tie-breaking, and error messages.
#include <cmath>

#include "tests/testing.h"

using namespace ember;
using ember::testing::gradcheck;
using ember::testing::random_tensor;

namespace {

enum class PoolKind { max, avg };

// Sliding window pooling with padding: max ignores padding, avg divides by kernel^2 (count_include_pad).
Tensor pool_reference(PoolKind kind, const Tensor& x, int64_t k, int64_t s, int64_t p) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
  const std::vector<double> v = x.to_vector<double>();
  std::vector<double> y;
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t oy = 0; oy < OH; ++oy)
      for (int64_t ox = 0; ox < OW; ++ox) {
        double best = -INFINITY, total = 0;
        for (int64_t i = 0; i < k; ++i)
          for (int64_t j = 0; j < k; ++j) {
            const int64_t iy = oy * s - p + i, ix = ox * s - p + j;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            best = std::max(best, v[(nc * H + iy) * W + ix]);
            total += v[(nc * H + iy) * W + ix];
          }
        y.push_back(kind == PoolKind::max ? best : total / double(k * k));
      }
  return Tensor::from_vector<double>(y, {N, C, OH, OW});
}

Tensor adaptive_reference(const Tensor& x, int64_t oh, int64_t ow) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const std::vector<double> v = x.to_vector<double>();
  std::vector<double> y;
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const int64_t y0 = int64_t(std::floor(double(i * H) / oh)), y1 = int64_t(std::ceil(double((i + 1) * H) / oh));
        const int64_t x0 = int64_t(std::floor(double(j * W) / ow)), x1 = int64_t(std::ceil(double((j + 1) * W) / ow));
        double total = 0;
        for (int64_t a = y0; a < y1; ++a)
          for (int64_t b = x0; b < x1; ++b) total += v[(nc * H + a) * W + b];
        y.push_back(total / double((y1 - y0) * (x1 - x0)));
      }
  return Tensor::from_vector<double>(y, {N, C, oh, ow});
}

struct PoolCase {
  Shape x;
  int64_t kernel, stride, padding;
};

}  // namespace

TEST_CASE("max_pool2d and avg_pool2d match the reference", "[ops][pool]") {
  const std::vector<PoolCase> cases = {
      {{2, 3, 8, 8}, 2, 2, 0}, {{2, 3, 7, 6}, 3, 2, 1}, {{1, 2, 5, 9}, 3, 1, 1},
      {{3, 1, 6, 5}, 2, 1, 1}, {{1, 1, 4, 4}, 4, 4, 2}, {{8, 64, 32, 32}, 2, 2, 0}};  // last: split over threads
  uint64_t seed = 100;
  for (const PoolCase& c : cases) {
    INFO("x " << shape_str(c.x) << " kernel " << c.kernel << " stride " << c.stride << " padding " << c.padding);
    const Tensor x = random_tensor(c.x, seed++, DType::f32);
    EMBER_REQUIRE_CLOSE(max_pool2d(x, c.kernel, c.stride, c.padding),
                        pool_reference(PoolKind::max, x, c.kernel, c.stride, c.padding), 0, 0);
    EMBER_REQUIRE_CLOSE(avg_pool2d(x, c.kernel, c.stride, c.padding),
                        pool_reference(PoolKind::avg, x, c.kernel, c.stride, c.padding), 1e-6, 1e-7);
  }
}

TEST_CASE("adaptive_avg_pool2d matches PyTorch's floor/ceil windows", "[ops][pool]") {
  const Tensor x = random_tensor({2, 3, 7, 5}, 110, DType::f32);
  for (auto [oh, ow] : {std::pair<int64_t, int64_t>{3, 2}, {1, 1}, {7, 5}, {4, 3}, {2, 5}}) {
    INFO("output " << oh << "x" << ow);
    EMBER_REQUIRE_CLOSE(adaptive_avg_pool2d(x, oh, ow), adaptive_reference(x, oh, ow), 1e-6, 1e-7);
  }
  // 5 -> 3 overlapping windows [0, 2), [1, 4), [3, 5) on a ramp: means 0.5, 2, 3.5.
  const Tensor ramp = Tensor::arange(5, DType::f64).reshape({1, 1, 1, 5});
  CHECK(adaptive_avg_pool2d(ramp, 1, 3).to_vector<double>() == std::vector<double>{0.5, 2.0, 3.5});
}

TEST_CASE("max_pool2d backward routes to the first maximum", "[ops][pool]") {
  const Tensor x =
      Tensor::from_vector<double>({1, 3, 3, 2, /**/ 0, 0, 5, 5, /**/ 7, 7, 1, 1, /**/ 7, 7, 1, 1}, {1, 1, 4, 4})
          .requires_grad_();
  max_pool2d(x, 2, 2).backward(Tensor::from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}));
  // Windows: {1,3,0,0} -> max 3 at (0,1); {3,2,5,5} -> first 5 at (1,2); {7,7,7,7} -> (2,0); {1,1,1,1} -> (2,2).
  CHECK(x.grad().to_vector<double>() ==
        std::vector<double>{0, 1, 0, 0, /**/ 0, 0, 2, 0, /**/ 3, 0, 4, 0, /**/ 0, 0, 0, 0});
  // Overlapping windows (stride 1) accumulate into the shared maximum.
  const Tensor y = Tensor::from_vector<double>({0, 9, 0, 0, 0, 0}, {1, 1, 2, 3}).requires_grad_();
  max_pool2d(y, 2, 1).backward(Tensor::from_vector<double>({1, 10}, {1, 1, 1, 2}));
  CHECK(y.grad().to_vector<double>() == std::vector<double>{0, 11, 0, 0, 0, 0});
}

TEST_CASE("gradcheck: pooling", "[ops][pool][grad]") {
  const Tensor x = random_tensor({2, 2, 5, 6}, 120).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return max_pool2d(v[0], 3, 2, 1); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return max_pool2d(v[0], 2, 2); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return avg_pool2d(v[0], 3, 2, 1); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return avg_pool2d(v[0], 2, 1); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return adaptive_avg_pool2d(v[0], 3, 4); }, {x});
  gradcheck([](const std::vector<Tensor>& v) { return adaptive_avg_pool2d(v[0], 1, 1); }, {x});
}

TEST_CASE("pooling rejects bad arguments and names them", "[ops][pool]") {
  const Tensor x = random_tensor({1, 2, 3, 3}, 130, DType::f32);
  CHECK_THROWS_WITH(max_pool2d(x, 5, 1),
                    Catch::Contains("larger than the padded input") && Catch::Contains("[1, 2, 3, 3]"));
  CHECK_THROWS_WITH(avg_pool2d(x, 2, 2, 2), Catch::Contains("padding 2"));
  CHECK_THROWS_WITH(max_pool2d(x.flatten(0, 1), 2, 2), Catch::Contains("[N, C, H, W]"));
  CHECK_THROWS_WITH(adaptive_avg_pool2d(x, 0, 2), Catch::Contains("output size"));
}
