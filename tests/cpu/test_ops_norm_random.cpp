// layer_norm against the formula (f32 and f64, non-contiguous input, with and without affine) and by finite
// differences; dropout's mask statistics, determinism by seed, scale, identity in eval, and the CPU kernel's
// mask bit for bit.
#include <cmath>
#include <cstring>
#include <vector>

#include "base/philox.h"
#include "kernels/cpu/dropout.h"
#include "tests/testing.h"

using namespace ember;
using ember::testing::gradcheck;
using ember::testing::random_tensor;

TEST_CASE("layer_norm matches (x - mean) / sqrt(var + eps) * w + b over the last dim", "[ops][norm]") {
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f32 ? 1e-5 : 1e-12;
    Tensor x = random_tensor({4, 6}, 1, dt, -3, 5).transpose(0, 1);  // [6, 4], non-contiguous
    Tensor w = random_tensor({4}, 2, dt), b = random_tensor({4}, 3, dt);
    const std::vector<double> v = x.to_vector<double>(), vw = w.to_vector<double>(), vb = b.to_vector<double>();
    std::vector<double> affine(24), plain(24);
    for (int r = 0; r < 6; ++r) {
      double m = 0, var = 0;
      for (int d = 0; d < 4; ++d) m += v[r * 4 + d] / 4;
      for (int d = 0; d < 4; ++d) var += (v[r * 4 + d] - m) * (v[r * 4 + d] - m) / 4;
      for (int d = 0; d < 4; ++d) {
        plain[r * 4 + d] = (v[r * 4 + d] - m) / std::sqrt(var + 1e-5);
        affine[r * 4 + d] = plain[r * 4 + d] * vw[d] + vb[d];
      }
    }
    EMBER_REQUIRE_CLOSE(layer_norm(x, w, b), Tensor::from_vector(affine, {6, 4}), tol, tol);
    EMBER_REQUIRE_CLOSE(layer_norm(x, Tensor(), Tensor()), Tensor::from_vector(plain, {6, 4}), tol, tol);
  }
  // f32 statistics survive a large offset (two-pass in double): rows of 1e4 + small noise.
  Tensor shifted = add_scalar(random_tensor({2, 64}, 4, DType::f32), 1e4);
  Tensor y = layer_norm(shifted, Tensor(), Tensor());
  CHECK(var(y, {1}, false).to_vector<double>()[0] == Approx(1.0).epsilon(1e-3));
  Tensor x = random_tensor({2, 4}, 5);
  CHECK_THROWS_WITH(layer_norm(x, random_tensor({3}, 6), Tensor()),
                    Catch::Contains("layer_norm: weight/bias f64[3] on cpu for input f64[2, 4] on cpu (needs [4])"));
  CHECK_THROWS_WITH(layer_norm(x, random_tensor({4}, 6, DType::f32), Tensor()),
                    Catch::Contains("layer_norm: dtypes differ"));
}

TEST_CASE("gradcheck: layer_norm", "[ops][norm][grad]") {
  Tensor x = random_tensor({3, 5}, 7).requires_grad_();
  Tensor w = random_tensor({5}, 8).requires_grad_(), b = random_tensor({5}, 9).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return layer_norm(v[0], v[1], v[2]); }, {x, w, b});
  Tensor y = random_tensor({2, 3, 4}, 10).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return layer_norm(v[0], Tensor(), Tensor()); }, {y});
  Tensor w4 = random_tensor({3}, 11).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return layer_norm(v[0].transpose(1, 2), v[1], Tensor()); }, {y, w4});
}

TEST_CASE("dropout: mask fraction, seed determinism, scale, eval identity", "[ops][random]") {
  Tensor x = Tensor::ones({100, 100});
  Generator gen(42, RandomPurpose::dropout);
  Tensor y = dropout(x, 0.3, true, gen);
  CHECK(gen.offset() == 10000);
  const std::vector<float> v = y.to_vector<float>();
  int64_t zeros = 0;
  for (float e : v) {
    if (e == 0) ++zeros;
    else CHECK(e == Approx(1 / 0.7).epsilon(1e-7));
  }
  // 10000 Bernoulli(0.3) draws: sd = sqrt(10000 * 0.21) ~ 46, so 5 sd is 230.
  CHECK(std::abs(zeros - 3000) < 230);
  // The mask is exactly philox_uniform_packed(seed, stream, offset + i) >= p.
  for (int i = 0; i < 10000; i += 997) CHECK((v[i] == 0) == (philox_uniform_packed(42, gen.stream(), i) < 0.3f));
  // Same seed and offset: same mask; the next draw continues the stream and differs.
  Generator again(42, RandomPurpose::dropout);
  CHECK(dropout(x, 0.3, true, again).to_vector<float>() == v);
  CHECK(dropout(x, 0.3, true, again).to_vector<float>() != v);
  // Non-contiguous input: element i in logical order gets mask element i.
  Tensor r = random_tensor({20, 30}, 1, DType::f64);
  Generator g1(7, RandomPurpose::dropout), g2(7, RandomPurpose::dropout);
  EMBER_REQUIRE_CLOSE(dropout(r.transpose(0, 1), 0.5, true, g1), dropout(r.transpose(0, 1).contiguous(), 0.5, true, g2),
                      0, 0);
  // Eval and p = 0 are the identity and draw nothing.
  Generator idle(1, RandomPurpose::dropout);
  CHECK(dropout(x, 0.3, false, idle).same(x));
  CHECK(dropout(x, 0.0, true, idle).same(x));
  CHECK(idle.offset() == 0);
  CHECK(dropout(x, 1.0, true, idle).to_vector<float>() == std::vector<float>(10000, 0.0f));
  CHECK_THROWS_WITH(dropout(x, 1.5, true, idle), Catch::Contains("dropout: probability 1.5 outside [0, 1]"));
}

TEST_CASE("gradcheck: dropout reuses its mask in the backward", "[ops][random][grad]") {
  Tensor x = random_tensor({4, 5}, 12).requires_grad_();
  // Each evaluation needs the same mask: a fresh generator at the same offset.
  gradcheck(
      [](const std::vector<Tensor>& v) {
        Generator gen(3, RandomPurpose::dropout);
        return dropout(v[0], 0.4, true, gen);
      },
      {x});
  Generator gen(3, RandomPurpose::dropout);
  Tensor y = dropout(x, 0.4, true, gen);
  x.zero_grad();
  sum(y).backward();
  // d y / d x is the mask times 1/0.6: zero exactly where y is zero.
  const std::vector<double> vy = y.to_vector<double>(), g = x.grad().to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) CHECK(g[i] == Approx(vy[i] == 0 ? 0.0 : 1 / 0.6));
}

TEST_CASE("dropout's CPU kernel draws exactly philox_uniform_packed's mask, across the 2^32 counter boundary",
          "[ops][random]") {
  const float p = 0.3f, scale = 1.0f / 0.7f;
  const uint64_t seed = 0x123456789abcdefull, stream = 0xfedcba987ull;
  // Counters from just below 2^32 cross into the high word (n = 100003: a tail of 3).
  for (uint64_t first : {uint64_t{0}, uint64_t{4}, (uint64_t{4} << 32) - 70000}) {
    const int64_t n = 100003;
    std::vector<float> x(n), y(n);
    for (int64_t i = 0; i < n; ++i) x[i] = 1.0f + static_cast<float>(i % 13);
    kernels::cpu::dropout(x.data(), y.data(), n, p, scale, seed, stream, first);
    int64_t wrong = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float want =
          philox_uniform_packed(seed, stream, first + static_cast<uint64_t>(i)) >= p ? x[i] * scale : 0.f;
      wrong += y[i] != want;
    }
    INFO("first counter " << first);
    CHECK(wrong == 0);
  }
}

TEST_CASE("dropout's vector Philox blocks equal the scalar generator on every instruction set this CPU has",
          "[ops][random]") {
  using kernels::cpu::PhiloxIsa;
  constexpr int kBlock = kernels::cpu::kPhiloxBlock;
  const uint64_t seed = 0x0123456789abcdefull, stream = 0x9876543210ull;
  std::vector<float> x(kBlock);
  for (int i = 0; i < kBlock; ++i) x[i] = static_cast<float>(i - 20) * 0.37f;
  x[1] = std::nanf(""), x[2] = -0.0f, x[3] = INFINITY, x[5] = -INFINITY;  // kept or dropped like any value
  int blocks_checked = 0;
  for (PhiloxIsa isa : {PhiloxIsa::scalar, PhiloxIsa::avx2, PhiloxIsa::avx512}) {
    // Counters below, at and across the 2^32 boundary of the counter's low word.
    for (uint64_t counter : {uint64_t{0}, uint64_t{77}, (uint64_t{1} << 32) - 9, uint64_t{5} << 32}) {
      float u[kBlock];
      if (!kernels::cpu::philox_uniform_block_on(isa, seed, stream, counter, u)) continue;
      ++blocks_checked;
      INFO("isa " << static_cast<int>(isa) << ", counter " << counter);
      int64_t wrong = 0;
      for (int e = 0; e < kBlock; ++e)
        wrong += u[e] != philox_uniform_packed(seed, stream, 4 * counter + static_cast<uint64_t>(e));
      CHECK(wrong == 0);
      for (float p : {0.0f, 0.3f, 1.0f}) {
        const float scale = p < 1 ? 1.0f / (1.0f - p) : 0.0f;
        std::vector<float> y(kBlock, 42.0f), want(kBlock);
        REQUIRE(kernels::cpu::dropout_block_on(isa, x.data(), y.data(), p, scale, seed, stream, counter));
        kernels::cpu::detail::apply_mask(x.data(), want.data(), u, kBlock, p, scale);
        CHECK(std::memcmp(y.data(), want.data(), sizeof(float) * kBlock) == 0);  // bits: NaN, -0 and all
      }
    }
  }
  CHECK(blocks_checked >= 4);  // the scalar generator's four counters always run
}
