// The DCGAN's ops: conv_transpose2d against a direct scatter loop (strides, padding, output padding, dilation,
// f32 and f64, forward and backward), leaky_relu and binary_cross_entropy_with_logits against their formulas,
// gradient checks of all three, and the ConvTranspose2d module's PyTorch names.
#include <cmath>

#include "engine/nn/conv_transpose2d.h"
#include "tests/testing.h"

using namespace ember;
using ember::testing::gradcheck;
using ember::testing::random_tensor;

namespace {

// The definition, in double: every input pixel scatters x[n, c, iy, ix] * w[c, o, ky, kx] to
// y[n, o, iy*s - p + ky*d, ix*s - p + kx*d] (dropped outside the output). Given dy, the gradients of sum(y * dy).
struct TransposedReference {
  Tensor y, dx, dw, db;
};
TransposedReference scatter_reference(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p,
                                      int64_t oph, int64_t opw, const Tensor& dy = Tensor()) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(1), KH = w.size(2), KW = w.size(3);
  const int64_t OH = (H - 1) * p.stride_h - 2 * p.pad_h + p.dilation_h * (KH - 1) + oph + 1;
  const int64_t OW = (W - 1) * p.stride_w - 2 * p.pad_w + p.dilation_w * (KW - 1) + opw + 1;
  const std::vector<double> vx = x.to_vector<double>(), vw = w.to_vector<double>();
  const std::vector<double> vb = b.defined() ? b.to_vector<double>() : std::vector<double>(O, 0.0);
  const std::vector<double> vdy = dy.defined() ? dy.to_vector<double>() : std::vector<double>(N * O * OH * OW, 0.0);
  std::vector<double> y(N * O * OH * OW), dx(vx.size()), dw(vw.size()), db(O);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < OH * OW; ++i) {
        y[(n * O + o) * OH * OW + i] = vb[o];
        db[o] += vdy[(n * O + o) * OH * OW + i];
      }
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t iy = 0; iy < H; ++iy)
        for (int64_t ix = 0; ix < W; ++ix) {
          const int64_t xi = ((n * C + c) * H + iy) * W + ix;
          for (int64_t o = 0; o < O; ++o)
            for (int64_t ky = 0; ky < KH; ++ky)
              for (int64_t kx = 0; kx < KW; ++kx) {
                const int64_t oy = iy * p.stride_h - p.pad_h + ky * p.dilation_h;
                const int64_t ox = ix * p.stride_w - p.pad_w + kx * p.dilation_w;
                if (oy < 0 || oy >= OH || ox < 0 || ox >= OW) continue;
                const int64_t wi = ((c * O + o) * KH + ky) * KW + kx, yi = ((n * O + o) * OH + oy) * OW + ox;
                y[yi] += vx[xi] * vw[wi];
                dx[xi] += vdy[yi] * vw[wi];
                dw[wi] += vdy[yi] * vx[xi];
              }
        }
  return {Tensor::from_vector<double>(y, {N, O, OH, OW}), Tensor::from_vector<double>(dx, x.shape()),
          Tensor::from_vector<double>(dw, w.shape()), Tensor::from_vector<double>(db, {O})};
}

struct TransposedCase {
  Shape x, w;
  Conv2dParams p;
  int64_t oph, opw;
  bool bias;
};

}  // namespace

TEST_CASE("conv_transpose2d forward and backward match the scatter loop", "[ops][dcgan]") {
  const std::vector<TransposedCase> cases = {
      {{2, 8, 1, 1}, {8, 6, 4, 4}, {1, 1, 0, 0, 1, 1}, 0, 0, false},   // DCGAN's first stage: z -> 4x4
      {{2, 6, 4, 4}, {6, 3, 4, 4}, {2, 2, 1, 1, 1, 1}, 0, 0, true},    // DCGAN's upsampling: 4x4 -> 8x8
      {{1, 3, 5, 4}, {3, 2, 3, 3}, {2, 2, 1, 1, 1, 1}, 1, 1, true},    // output_padding: 2x exactly
      {{2, 2, 3, 5}, {2, 4, 3, 2}, {3, 1, 0, 1, 1, 1}, 2, 0, true},    // stride (3, 1), non-square kernel
      {{2, 3, 4, 4}, {3, 2, 3, 3}, {2, 2, 2, 2, 2, 2}, 1, 0, false},   // dilation 2 and stride 2
      {{3, 4, 6, 6}, {4, 5, 1, 1}, {}, 0, 0, true},                    // 1x1
      {{4, 16, 8, 8}, {16, 8, 4, 4}, {2, 2, 1, 1, 1, 1}, 0, 0, true},  // big enough for the threaded kernels
  };
  uint64_t seed = 100;
  for (const TransposedCase& k : cases) {
    INFO("x " << shape_str(k.x) << " w " << shape_str(k.w) << " stride " << k.p.stride_h << "," << k.p.stride_w);
    const Tensor x = random_tensor(k.x, seed++, DType::f32), w = random_tensor(k.w, seed++, DType::f32);
    const Tensor b = k.bias ? random_tensor({k.w[1]}, seed++, DType::f32) : Tensor();
    // f32: oneDNN (when built with it) or im2col.
    EMBER_REQUIRE_CLOSE(conv_transpose2d(x, w, b, k.p, k.oph, k.opw), scatter_reference(x, w, b, k.p, k.oph, k.opw).y,
                        1e-5, 1e-5);
    const Tensor x64 = x.to(DType::f64).requires_grad_(), w64 = w.to(DType::f64).requires_grad_();
    const Tensor b64 = k.bias ? b.to(DType::f64).requires_grad_() : Tensor();
    const Tensor y64 = conv_transpose2d(x64, w64, b64, k.p, k.oph, k.opw);
    const Tensor dy = random_tensor(y64.shape(), seed++);
    y64.backward(dy);
    const TransposedReference ref = scatter_reference(x, w, b, k.p, k.oph, k.opw, dy);
    EMBER_REQUIRE_CLOSE(y64, ref.y, 1e-12, 1e-12);
    EMBER_REQUIRE_CLOSE(x64.grad(), ref.dx, 1e-12, 1e-12);
    EMBER_REQUIRE_CLOSE(w64.grad(), ref.dw, 1e-12, 1e-12);
    if (k.bias) EMBER_REQUIRE_CLOSE(b64.grad(), ref.db, 1e-12, 1e-12);
  }
}

TEST_CASE("gradcheck: conv_transpose2d input, weight and bias", "[ops][dcgan][grad]") {
  const Tensor x = random_tensor({2, 3, 3, 2}, 140).requires_grad_();
  const Tensor w = random_tensor({3, 2, 3, 2}, 141).requires_grad_();
  const Tensor b = random_tensor({2}, 142).requires_grad_();
  gradcheck(
      [](const std::vector<Tensor>& v) {
        return conv_transpose2d(v[0], v[1], v[2], {2, 1, 1, 0, 1, 1}, 1, 0);
      },
      {x, w, b});
  gradcheck(
      [](const std::vector<Tensor>& v) {
        return conv_transpose2d(v[0], v[1], Tensor(), {1, 2, 0, 1, 2, 1});
      },
      {x, w});
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d", "[ops][dcgan]") {
  // <conv2d(y, w), x> = <y, conv_transpose2d(x, w)> for the same params: what makes it conv2d's input gradient.
  const Conv2dParams p{2, 2, 1, 1, 1, 1};
  const Tensor x = random_tensor({2, 4, 5, 5}, 150), w = random_tensor({4, 3, 4, 4}, 151);
  const Tensor y = random_tensor({2, 3, 10, 10}, 152);
  const double lhs = sum(mul(conv2d(y, w, Tensor(), p), x)).item();
  const double rhs = sum(mul(y, conv_transpose2d(x, w, Tensor(), p))).item();
  CHECK(std::fabs(lhs - rhs) <= 1e-10 * std::fabs(lhs));
}

TEST_CASE("conv_transpose2d rejects bad shapes and parameters and names them", "[ops][dcgan]") {
  const Tensor x = random_tensor({1, 3, 4, 4}, 160, DType::f32);
  CHECK_THROWS_WITH(
      conv_transpose2d(x, random_tensor({4, 2, 3, 3}, 161, DType::f32), Tensor(), {}),
      Catch::Contains("conv_transpose2d") && Catch::Contains("channels") && Catch::Contains("[4, 2, 3, 3]"));
  CHECK_THROWS_WITH(
      conv_transpose2d(x, random_tensor({3, 2, 3, 3}, 162, DType::f32), random_tensor({3}, 163, DType::f32), {}),
      Catch::Contains("bias") && Catch::Contains("C_out"));
  CHECK_THROWS_WITH(conv_transpose2d(x, random_tensor({3, 2, 3, 3}, 164, DType::f32), Tensor(), {}, 1, 0),
                    Catch::Contains("output_padding (1, 0)"));
  CHECK_THROWS_WITH(conv_transpose2d(random_tensor({1, 3, 1, 1}, 165, DType::f32),
                                     random_tensor({3, 2, 1, 1}, 166, DType::f32), Tensor(), {1, 1, 1, 1, 1, 1}),
                    Catch::Contains("empty output"));
}

TEST_CASE("leaky_relu: x above 0, slope * x below, and gradcheck", "[ops][dcgan][grad]") {
  const Tensor x = Tensor::from_vector<double>({-2.0, -0.5, 0.25, 3.0}, {4});
  EMBER_REQUIRE_CLOSE(leaky_relu(x, 0.2), Tensor::from_vector<double>({-0.4, -0.1, 0.25, 3.0}, {4}), 1e-15, 1e-15);
  // No value within the difference step of the kink at 0.
  std::vector<double> v = random_tensor({3, 5}, 170, DType::f64, 0.1, 1.0).to_vector<double>();
  for (size_t i = 0; i < v.size(); i += 2) v[i] = -v[i];
  const Tensor xs = Tensor::from_vector<double>(v, {3, 5}).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return leaky_relu(v[0], 0.2); }, {xs});
}

TEST_CASE("binary_cross_entropy_with_logits: the textbook formula, no overflow, and gradcheck", "[ops][dcgan][grad]") {
  const std::vector<double> xs = {-3.0, -0.5, 0.0, 0.7, 4.0, 2.0}, ys = {0.0, 1.0, 0.5, 1.0, 0.0, 0.25};
  double expected = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double s = 1.0 / (1.0 + std::exp(-xs[i]));
    expected += -(ys[i] * std::log(s) + (1 - ys[i]) * std::log(1 - s));
  }
  expected /= static_cast<double>(xs.size());
  const Tensor loss = binary_cross_entropy_with_logits(Tensor::from_vector<double>(xs, {2, 3}),
                                                       Tensor::from_vector<double>(ys, {2, 3}));
  CHECK(std::fabs(loss.item() - expected) < 1e-14);
  // Far logits: the naive formula gives inf (log 0); the stable one gives |x| for the wrong label, 0 for the right.
  const Tensor far = binary_cross_entropy_with_logits(Tensor::from_vector<float>({200.f, -200.f}, {2}),
                                                      Tensor::from_vector<float>({0.f, 0.f}, {2}));
  CHECK(std::fabs(far.item() - 100.f) < 1e-3);
  const Tensor logits = random_tensor({4, 3}, 180, DType::f64, -3, 3).requires_grad_();
  const Tensor targets = random_tensor({4, 3}, 181, DType::f64, 0, 1).requires_grad_();
  gradcheck([](const std::vector<Tensor>& v) { return binary_cross_entropy_with_logits(v[0], v[1]); },
            {logits, targets});
  CHECK_THROWS_WITH(binary_cross_entropy_with_logits(logits, random_tensor({3, 4}, 182)),
                    Catch::Contains("same shape"));
}

TEST_CASE("ConvTranspose2d module: PyTorch names, layout and output size", "[nn][dcgan]") {
  Generator init(5, RandomPurpose::init);
  nn::ConvTranspose2d layer(8, 4, 4, 2, 1, 0, true, init);
  const NamedTensors params = layer.named_parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].first == "weight");
  CHECK(params[0].second.shape() == Shape{8, 4, 4, 4});
  CHECK(params[1].first == "bias");
  CHECK(params[1].second.shape() == Shape{4});
  // PyTorch's bound 1/sqrt(fan_in), fan_in from weight dim 1: 1/sqrt(4 * 16) = 0.125.
  CHECK(max(abs(layer.weight)).item() <= 0.125);
  const Tensor y = layer(random_tensor({3, 8, 5, 5}, 190, DType::f32));
  CHECK(y.shape() == Shape{3, 4, 10, 10});
  EMBER_REQUIRE_CLOSE(
      y, conv_transpose2d(random_tensor({3, 8, 5, 5}, 190, DType::f32), layer.weight, layer.bias, {2, 2, 1, 1, 1, 1}),
      0, 0);
}
