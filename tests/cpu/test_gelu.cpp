// kernels/cpu/gelu.h's vectorised f32 GELU against the exact maths in double, over a dense sweep, at every
// offset and length a vector loop's tail can take, and at the edges (NaN, signed zero, huge values).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/gelu.h"

using namespace ember::kernels::cpu;

namespace {

double exact_gelu(double x) { return x * 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double exact_gelu_derivative(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0)) + x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
}

// The accuracy gelu.h promises.
void require_gelu_accurate(float x, float got) {
  const double want = exact_gelu(x), err = std::fabs(got - want);
  INFO("gelu(" << x << ") = " << got << ", exact " << want);
  REQUIRE(err <= 4e-7);
  if (std::fabs(want) > 1e-4) REQUIRE(err <= 3e-6 * std::fabs(want));
}
void require_derivative_accurate(float x, float got) {
  const double want = exact_gelu_derivative(x);
  INFO("gelu'(" << x << ") = " << got << ", exact " << want);
  REQUIRE(std::fabs(got - want) <= 3e-7);
}

}  // namespace

TEST_CASE("f32 GELU and its derivative within 4e-7 of the exact values", "[kernels][gelu]") {
  std::vector<float> x;
  for (int i = -150000; i <= 150000; ++i) x.push_back(static_cast<float>(i) * 8e-5f);  // [-12, 12]
  for (float v : {1e-30f, -1e-30f, 1e-7f, -1e-7f, 0.7518f, -0.7518f, 5.6568f, -5.6568f, 13.2f, -13.2f, 20.f, -20.f})
    x.push_back(v);
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> y(x.size()), dx(x.size()), ones(x.size(), 1.f);
  gelu_forward(x.data(), 0.f, y.data(), n);
  gelu_backward(x.data(), ones.data(), dx.data(), n);
  for (size_t i = 0; i < x.size(); ++i) {
    require_gelu_accurate(x[i], y[i]);
    require_derivative_accurate(x[i], dx[i]);
  }
}

TEST_CASE("f32 GELU: every length and alignment, the bias, and the output gradient", "[kernels][gelu]") {
  std::vector<float> buffer(96), dy(96);
  for (size_t i = 0; i < buffer.size(); ++i) {
    buffer[i] = -6.f + 0.131f * static_cast<float>(i);
    dy[i] = 0.5f - 0.013f * static_cast<float>(i);
  }
  const float bias = 0.25f;
  for (int64_t offset = 0; offset < 4; ++offset) {
    for (int64_t n = 0; n <= 67; ++n) {
      INFO("offset " << offset << ", length " << n);
      const float* x = buffer.data() + offset;
      std::vector<float> y(n + 1, -1.f), dx(n + 1, -1.f);  // one guard element past the end
      gelu_forward(x, bias, y.data(), n);
      gelu_backward(x, dy.data() + offset, dx.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        require_gelu_accurate(x[i] + bias, y[i]);
        const double want = dy[offset + i] * exact_gelu_derivative(x[i]);
        REQUIRE(std::fabs(dx[i] - want) <= 3e-7 * (1 + std::fabs(dy[offset + i])));
      }
      REQUIRE(y[n] == -1.f);
      REQUIRE(dx[n] == -1.f);
    }
  }
}

TEST_CASE("f32 GELU at the edges: NaN stays NaN, signed zero, huge values", "[kernels][gelu]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {nan, 0.f, -0.f, 1e30f, -1e30f, 3e38f, -3e38f};
  std::vector<float> y(x.size()), dx(x.size()), ones(x.size(), 1.f);
  gelu_forward(x.data(), -0.f, y.data(), static_cast<int64_t>(x.size()));  // no bias: -0 + -0 is -0
  gelu_backward(x.data(), ones.data(), dx.data(), static_cast<int64_t>(x.size()));
  CHECK(std::isnan(y[0]));
  CHECK(std::isnan(dx[0]));
  CHECK((y[1] == 0.f && !std::signbit(y[1])));
  CHECK((y[2] == 0.f && std::signbit(y[2])));
  CHECK(dx[1] == 0.5f);
  CHECK(dx[2] == 0.5f);
  CHECK(y[3] == 1e30f);
  CHECK(y[4] == 0.f);
  CHECK(y[5] == 3e38f);
  CHECK(y[6] == 0.f);
  CHECK(dx[3] == 1.f);
  CHECK(dx[4] == 0.f);
  CHECK(dx[5] == 1.f);
  CHECK(dx[6] == 0.f);
}
