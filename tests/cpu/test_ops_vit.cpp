// The ViT ops against spec/models.md: patchify's index map (feature f = (i*p + j)*C + ch, channel fastest),
// the four shift directions with zero fill, the LSA diagonal mask, and SimpleViT's sin-cos table.
#include "tests/testing.h"

using namespace ember;
using ember::testing::gradcheck;
using ember::testing::random_tensor;

TEST_CASE("patchify: token t = r*(W/p) + c, feature f = (i*p + j)*C + ch", "[ops][vit]") {
  const int64_t B = 2, C = 3, H = 8, W = 12, p = 4;
  Tensor x = Tensor::arange(B * C * H * W, DType::f32).reshape({B, C, H, W});
  Tensor out = patchify(x, p);
  REQUIRE(out.shape() == Shape{B, 6, 48});
  const std::vector<float> v = x.to_vector<float>(), o = out.to_vector<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t r = 0; r < H / p; ++r)
      for (int64_t c = 0; c < W / p; ++c)
        for (int64_t i = 0; i < p; ++i)
          for (int64_t j = 0; j < p; ++j)
            for (int64_t ch = 0; ch < C; ++ch) {
              const int64_t t = r * (W / p) + c, f = (i * p + j) * C + ch;
              CHECK(o[(b * 6 + t) * 48 + f] == v[((b * C + ch) * H + r * p + i) * W + c * p + j]);
            }
  // The CIFAR case: [1, 3, 32, 32] -> [1, 64, 48]; a non-contiguous input gives the same tokens.
  Tensor img = random_tensor({1, 32, 32, 3}, 1, DType::f32).permute({0, 3, 1, 2});
  CHECK(patchify(img, 4).shape() == Shape{1, 64, 48});
  EMBER_REQUIRE_CLOSE(patchify(img, 4), patchify(img.contiguous(), 4), 0, 0);
  CHECK_THROWS_WITH(patchify(x, 5), Catch::Contains("patchify: patch 5 does not tile f32[2, 3, 8, 12]"));
  CHECK_THROWS_WITH(patchify(Tensor::zeros({3, 8, 8}), 4), Catch::Contains("patchify: needs [B, C, H, W]"));
}

TEST_CASE("spatial_shift: x, right, left, down, up on channels, zero filled", "[ops][vit]") {
  const int64_t B = 2, C = 2, H = 3, W = 4;
  Tensor x = random_tensor({B, C, H, W}, 2, DType::f32);
  Tensor out = spatial_shift(x);
  REQUIRE(out.shape() == Shape{B, 5 * C, H, W});
  const std::vector<float> v = x.to_vector<float>(), o = out.to_vector<float>();
  auto at = [&](int64_t b, int64_t ch, int64_t i, int64_t j) -> float {
    if (i < 0 || i >= H || j < 0 || j >= W) return 0.0f;
    return v[((b * C + ch) * H + i) * W + j];
  };
  // Source offsets (di, dj) per group: out[i, j] = x[i + di, j + dj].
  const int64_t di[5] = {0, 0, 0, -1, 1}, dj[5] = {0, -1, 1, 0, 0};
  for (int64_t b = 0; b < B; ++b)
    for (int64_t g = 0; g < 5; ++g)
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t i = 0; i < H; ++i)
          for (int64_t j = 0; j < W; ++j)
            CHECK(o[((b * 5 * C + g * C + ch) * H + i) * W + j] == at(b, ch, i + di[g], j + dj[g]));
  CHECK_THROWS_WITH(spatial_shift(Tensor::zeros({2, 3})), Catch::Contains("spatial_shift: needs [B, C, H, W]"));
}

TEST_CASE("diagonal_mask sets S[.., n, n] and nothing else", "[ops][vit]") {
  Tensor s = random_tensor({2, 3, 4, 4}, 3, DType::f32);
  const double lowest = -3.4028234663852886e38;  // float32's most negative finite value
  const std::vector<float> v = s.to_vector<float>(), o = diagonal_mask(s, lowest).to_vector<float>();
  for (size_t k = 0; k < v.size(); ++k) {
    const int64_t i = (k / 4) % 4, j = k % 4;
    CHECK(o[k] == (i == j ? std::numeric_limits<float>::lowest() : v[k]));
  }
  // After softmax a token never attends to itself.
  const std::vector<float> p = softmax(diagonal_mask(s, lowest), -1).to_vector<float>();
  for (size_t k = 0; k < p.size(); ++k)
    if ((k / 4) % 4 == k % 4) CHECK(p[k] == 0.0f);
  CHECK_THROWS_WITH(diagonal_mask(random_tensor({2, 3}, 1), 0.0), Catch::Contains("diagonal_mask: needs [..., N, N]"));
}

TEST_CASE("gradcheck: patchify, spatial_shift, diagonal_mask", "[ops][vit][grad]") {
  Tensor x = random_tensor({1, 2, 4, 4}, 4).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return patchify(v[0], 2); }, {x});
  Tensor y = random_tensor({1, 1, 3, 3}, 5).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return spatial_shift(v[0]); }, {y});
  Tensor s = random_tensor({2, 3, 3}, 6).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return diagonal_mask(v[0], -50.0); }, {s});
}

TEST_CASE("sincos_position_table_2d follows SimpleViT's formula", "[ops][vit]") {
  // dim 512: omega_k = 1 / 10000^(k / 127), k = 0..127; token t = r*8 + c.
  Tensor pe = sincos_position_table_2d(8, 8, 512);
  REQUIRE(pe.shape() == Shape{64, 512});
  REQUIRE(pe.dtype() == DType::f32);
  const std::vector<float> v = pe.to_vector<float>();
  for (int64_t r = 0; r < 8; ++r)
    for (int64_t c = 0; c < 8; ++c)
      for (int64_t k = 0; k < 128; k += 9) {
        const double omega = 1.0 / std::pow(10000.0, k / 127.0);
        const float* row = v.data() + (r * 8 + c) * 512;
        CHECK(row[k] == Approx(std::sin(c * omega)).margin(2e-6));
        CHECK(row[128 + k] == Approx(std::cos(c * omega)).margin(2e-6));
        CHECK(row[256 + k] == Approx(std::sin(r * omega)).margin(2e-6));
        CHECK(row[384 + k] == Approx(std::cos(r * omega)).margin(2e-6));
      }
  // Non-square grid and the temperature argument: omega_1 = 1 / 100 for dim 8 (k over 2, denominator 1).
  Tensor small = sincos_position_table_2d(2, 3, 8, 100.0);
  REQUIRE(small.shape() == Shape{6, 8});
  const std::vector<float> s = small.to_vector<float>();
  // token t = 1*3 + 2 (r = 1, c = 2): [sin(2), sin(0.02), cos(2), cos(0.02), sin(1), sin(0.01), cos(1), cos(0.01)]
  const double want[8] = {std::sin(2.0), std::sin(0.02), std::cos(2.0), std::cos(0.02),
                          std::sin(1.0), std::sin(0.01), std::cos(1.0), std::cos(0.01)};
  for (int k = 0; k < 8; ++k) CHECK(s[5 * 8 + k] == Approx(want[k]).margin(1e-6));
  CHECK_THROWS_WITH(sincos_position_table_2d(8, 8, 510), Catch::Contains("sincos_position_table_2d: dim 510"));
}
