// The ViT ops against spec/models.md: patchify's index map (feature f = (i*p + j)*C + ch, channel fastest),
// the four shift directions with zero fill, the LSA diagonal mask, SimpleViT's sin-cos table, and fused
// attention against the same attention built from generic ops.
#include <limits>

#include "kernels/cpu/parallel.h"
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

namespace {

// softmax(s q k^T [diagonal masked]) v from generic ops: the reference the fused op must equal.
Tensor composed_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale, const Tensor& log_scale,
                          bool mask_diagonal) {
  Tensor s = matmul(q, k.transpose(-2, -1));
  s = log_scale.defined() ? mul(s, exp(log_scale)) : mul_scalar(s, scale);
  if (mask_diagonal) s = diagonal_mask(s, std::numeric_limits<double>::lowest());
  return matmul(softmax(s, -1), v);
}

// Outputs and the gradients of sum(out * w) for q, k, v and (when given) log_scale.
std::vector<Tensor> attention_and_grads(bool fused, const std::vector<Tensor>& leaves, double scale, bool mask) {
  std::vector<Tensor> in;
  for (const Tensor& t : leaves) in.push_back(t.clone().requires_grad_());
  const Tensor log_scale = in.size() > 3 ? in[3] : Tensor();
  const Tensor out = fused ? scaled_dot_product_attention(in[0], in[1], in[2], scale, log_scale, mask)
                           : composed_attention(in[0], in[1], in[2], scale, log_scale, mask);
  sum(mul(out, random_tensor(out.shape(), 77, out.dtype()))).backward();
  std::vector<Tensor> result{out.detach()};
  for (const Tensor& t : in) result.push_back(t.grad());
  return result;
}

}  // namespace

TEST_CASE("scaled_dot_product_attention equals attention composed from generic ops", "[ops][vit][attention]") {
  struct Case {
    Shape shape;
    bool lsa;
  };
  // The ViTs' shape (65 tokens, head 64) with ViT's and LSA's scaling, and odd small sizes.
  for (const Case& c :
       {Case{{2, 2, 65, 64}, false}, Case{{2, 2, 65, 64}, true}, Case{{3, 1, 5, 3}, false}, Case{{1, 4, 7, 5}, true}}) {
    for (DType dtype : {DType::f64, DType::f32}) {
      INFO(shape_str(c.shape) << (c.lsa ? " LSA " : " ") << dtype_name(dtype));
      std::vector<Tensor> leaves{random_tensor(c.shape, 1, dtype, -2, 2), random_tensor(c.shape, 2, dtype, -2, 2),
                                 random_tensor(c.shape, 3, dtype)};
      if (c.lsa) leaves.push_back(Tensor::scalar(-1.2, dtype));
      const double scale = 0.35;
      const std::vector<Tensor> fused = attention_and_grads(true, leaves, scale, c.lsa);
      const std::vector<Tensor> composed = attention_and_grads(false, leaves, scale, c.lsa);
      const double rtol = dtype == DType::f64 ? 1e-10 : 2e-4, atol = dtype == DType::f64 ? 1e-12 : 2e-5;
      for (size_t i = 0; i < fused.size(); ++i) {
        INFO("output 0, gradients 1.. : " << i);
        EMBER_REQUIRE_CLOSE(fused[i], composed[i], rtol, atol);
      }
    }
  }
}

TEST_CASE("gradcheck: scaled_dot_product_attention, plain and LSA", "[ops][vit][attention][grad]") {
  const Shape s{2, 2, 4, 3};
  Tensor q = random_tensor(s, 4).requires_grad_(), k = random_tensor(s, 5).requires_grad_();
  Tensor v = random_tensor(s, 6).requires_grad_(), log_scale = Tensor::scalar(0.4, DType::f64).requires_grad_();
  gradcheck([](const std::vector<Tensor>& x) { return scaled_dot_product_attention(x[0], x[1], x[2], 0.7); },
            {q, k, v});
  gradcheck(
      [](const std::vector<Tensor>& x) { return scaled_dot_product_attention(x[0], x[1], x[2], 0.0, x[3], true); },
      {q, k, v, log_scale});
}

TEST_CASE("scaled_dot_product_attention: the same bits on one thread and on several", "[ops][vit][attention]") {
  const Shape s{8, 8, 65, 64};  // big enough to split over threads
  Tensor q = random_tensor(s, 7, DType::f32), k = random_tensor(s, 8, DType::f32), v = random_tensor(s, 9, DType::f32);
  auto run = [&](int threads) {
    const int saved = kernels::cpu::cpu_threads();
    kernels::cpu::set_cpu_threads(threads);
    std::vector<Tensor> r = attention_and_grads(true, {q, k, v, Tensor::scalar(-2.0)}, 0.0, true);
    kernels::cpu::set_cpu_threads(saved);
    return r;
  };
  const std::vector<Tensor> one = run(1), four = run(4);
  for (size_t i = 0; i < one.size(); ++i) CHECK(one[i].to_vector<float>() == four[i].to_vector<float>());
}

TEST_CASE("scaled_dot_product_attention: bad shapes name the problem", "[ops][vit][attention]") {
  const Tensor q = random_tensor({1, 2, 3, 4}, 1);
  CHECK_THROWS_WITH(scaled_dot_product_attention(q, random_tensor({1, 2, 4, 4}, 2), q, 1.0),
                    Catch::Contains("must have one shape"));
  CHECK_THROWS_WITH(scaled_dot_product_attention(q.reshape({2, 3, 4}), q.reshape({2, 3, 4}), q.reshape({2, 3, 4}), 1.0),
                    Catch::Contains("q must be [B, H, N, dh]"));
  CHECK_THROWS_WITH(scaled_dot_product_attention(q, q, q, 0.0, random_tensor({1}, 3), true),
                    Catch::Contains("log_scale must be 0-dim"));
  const Tensor one_token = random_tensor({1, 1, 1, 4}, 4);
  CHECK_THROWS_WITH(scaled_dot_product_attention(one_token, one_token, one_token, 1.0, {}, true),
                    Catch::Contains("needs at least 2 tokens"));
  CHECK_THROWS_WITH(scaled_dot_product_attention(q, q.to(DType::f32), q, 1.0), Catch::Contains("dtypes differ"));
}

TEST_CASE("packed_self_attention equals splitting the heads, attending, and merging them", "[ops][vit][attention]") {
  for (bool lsa : {false, true}) {
    for (const Shape& qkv_shape : {Shape{2, 65, 3 * 2 * 64}, Shape{3, 5, 3 * 4 * 3}}) {
      const int64_t heads = qkv_shape[2] == 3 * 2 * 64 ? 2 : 4;
      INFO(shape_str(qkv_shape) << " heads " << heads << (lsa ? " LSA" : ""));
      auto run = [&](bool packed) {
        Tensor qkv = random_tensor(qkv_shape, 11, DType::f64, -2, 2).requires_grad_();
        Tensor log_scale = Tensor::scalar(-0.7, DType::f64).requires_grad_();
        const Tensor ls = lsa ? log_scale : Tensor();
        Tensor out;
        if (packed) {
          out = packed_self_attention(qkv, heads, 0.3, ls, lsa);
        } else {
          const int64_t B = qkv_shape[0], N = qkv_shape[1], dh = qkv_shape[2] / (3 * heads);
          const Tensor t = qkv.reshape({B, N, 3, heads, dh}).permute({2, 0, 3, 1, 4});
          const Tensor o = scaled_dot_product_attention(t.select(0, 0), t.select(0, 1), t.select(0, 2), 0.3, ls, lsa);
          out = o.permute({0, 2, 1, 3}).reshape({B, N, heads * dh});
        }
        sum(mul(out, random_tensor(out.shape(), 12, DType::f64))).backward();
        return std::vector<Tensor>{out.detach(), qkv.grad(), lsa ? log_scale.grad() : Tensor::zeros({}, DType::f64)};
      };
      const std::vector<Tensor> packed = run(true), composed = run(false);
      for (size_t i = 0; i < packed.size(); ++i) EMBER_REQUIRE_CLOSE(packed[i], composed[i], 1e-10, 1e-12);
    }
  }
  CHECK_THROWS_WITH(packed_self_attention(random_tensor({2, 5, 10}, 1), 2, 1.0),
                    Catch::Contains("packed_self_attention: expected [B, N, 3*2*dh]"));
}

TEST_CASE("gradcheck: packed_self_attention with LSA's scale and mask", "[ops][vit][attention][grad]") {
  Tensor qkv = random_tensor({2, 4, 3 * 2 * 3}, 13).requires_grad_();
  Tensor log_scale = Tensor::scalar(0.2, DType::f64).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return packed_self_attention(v[0], 2, 0.0, v[1], true); },
            {qkv, log_scale});
}
