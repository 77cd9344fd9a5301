// conv2d against a nested-loop reference (strides, padding, dilation, 1x1, non-square, batches, threaded
// sizes, non-contiguous input), gradient checks in f64, and error messages.
#include <cstdlib>

#include "kernels/cpu/blas_core.h"
#include "tests/testing.h"

using namespace ember;
using ember::testing::gradcheck;
using ember::testing::random_tensor;

namespace {

// The definition, in double: y[n,o,oy,ox] = b[o] + sum w[o,c,ky,kx] x[n,c,oy*sh-ph+ky*dh, ox*sw-pw+kx*dw],
// and, given dy, the gradients of sum(y * dy): every product term sends dy*w to dx and dy*x to dw.
struct ConvReference {
  Tensor y, dx, dw, db;
};
ConvReference conv_reference(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p,
                             const Tensor& dy = Tensor()) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), KH = w.size(2), KW = w.size(3);
  const int64_t OH = (H + 2 * p.pad_h - p.dilation_h * (KH - 1) - 1) / p.stride_h + 1;
  const int64_t OW = (W + 2 * p.pad_w - p.dilation_w * (KW - 1) - 1) / p.stride_w + 1;
  const std::vector<double> vx = x.to_vector<double>(), vw = w.to_vector<double>();
  const std::vector<double> vb = b.defined() ? b.to_vector<double>() : std::vector<double>(O, 0.0);
  const std::vector<double> vdy = dy.defined() ? dy.to_vector<double>() : std::vector<double>(N * O * OH * OW, 0.0);
  std::vector<double> y(N * O * OH * OW), dx(vx.size()), dw(vw.size()), db(O);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          const int64_t out = ((n * O + o) * OH + oy) * OW + ox;
          double s = vb[o];
          db[o] += vdy[out];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t ky = 0; ky < KH; ++ky)
              for (int64_t kx = 0; kx < KW; ++kx) {
                const int64_t iy = oy * p.stride_h - p.pad_h + ky * p.dilation_h;
                const int64_t ix = ox * p.stride_w - p.pad_w + kx * p.dilation_w;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                const int64_t wi = ((o * C + c) * KH + ky) * KW + kx, xi = ((n * C + c) * H + iy) * W + ix;
                s += vw[wi] * vx[xi];
                dx[xi] += vdy[out] * vw[wi];
                dw[wi] += vdy[out] * vx[xi];
              }
          y[out] = s;
        }
  return {Tensor::from_vector<double>(y, {N, O, OH, OW}), Tensor::from_vector<double>(dx, x.shape()),
          Tensor::from_vector<double>(dw, w.shape()), Tensor::from_vector<double>(db, {O})};
}

struct ConvCase {
  Shape x, w;
  Conv2dParams p;
  bool bias;
};

}  // namespace

TEST_CASE("conv2d forward and backward match the nested-loop reference", "[ops][conv]") {
  const std::vector<ConvCase> cases = {
      {{3, 4, 9, 7}, {5, 4, 3, 3}, {1, 1, 1, 1, 1, 1}, true},       // 3x3 pad 1, batch 3
      {{1, 2, 8, 10}, {3, 2, 3, 2}, {2, 1, 1, 0, 1, 1}, true},      // stride (2, 1), batch 1, non-square kernel
      {{2, 3, 11, 9}, {4, 3, 3, 3}, {1, 1, 2, 2, 2, 2}, false},     // dilation 2
      {{2, 6, 5, 4}, {3, 6, 1, 1}, {}, true},                       // 1x1 stride 1: the pointwise GEMM path
      {{2, 6, 5, 4}, {3, 6, 1, 1}, {2, 2, 0, 0, 1, 1}, false},      // 1x1 stride 2: im2col path
      {{2, 2, 6, 9}, {3, 2, 2, 4}, {1, 3, 0, 2, 1, 1}, true},       // stride (1, 3), padding (0, 2)
      {{2, 3, 5, 5}, {2, 3, 5, 5}, {}, true},                       // kernel = input: one output pixel
      {{4, 16, 16, 16}, {16, 16, 3, 3}, {1, 1, 1, 1, 1, 1}, true},  // large enough to split images over threads
      {{2, 16, 32, 32}, {4, 16, 3, 3}, {1, 1, 1, 1, 1, 1}, true},   // blocks of output rows within an image
      {{36, 64, 4, 4}, {8, 64, 3, 3}, {1, 1, 1, 1, 1, 1}, true},    // 16 images per GEMM: 16 + 2 per thread
  };
  uint64_t seed = 10;
  for (const ConvCase& k : cases) {
    INFO("x " << shape_str(k.x) << " w " << shape_str(k.w));
    const Tensor x = random_tensor(k.x, seed++, DType::f32), w = random_tensor(k.w, seed++, DType::f32);
    const Tensor b = k.bias ? random_tensor({k.w[0]}, seed++, DType::f32) : Tensor();
    EMBER_REQUIRE_CLOSE(conv2d(x, w, b, k.p), conv_reference(x, w, b, k.p).y, 1e-5, 1e-5);
    // f64 goes through dgemm and must agree to double rounding, forward and backward.
    const Tensor x64 = x.to(DType::f64).requires_grad_(), w64 = w.to(DType::f64).requires_grad_();
    const Tensor b64 = k.bias ? b.to(DType::f64).requires_grad_() : Tensor();
    const Tensor y64 = conv2d(x64, w64, b64, k.p);
    const Tensor dy = random_tensor(y64.shape(), seed++);
    y64.backward(dy);
    const ConvReference ref = conv_reference(x, w, b, k.p, dy);
    EMBER_REQUIRE_CLOSE(y64, ref.y, 1e-12, 1e-12);
    EMBER_REQUIRE_CLOSE(x64.grad(), ref.dx, 1e-12, 1e-12);
    EMBER_REQUIRE_CLOSE(w64.grad(), ref.dw, 1e-12, 1e-12);
    if (k.bias) EMBER_REQUIRE_CLOSE(b64.grad(), ref.db, 1e-12, 1e-12);
  }
}

TEST_CASE("conv2d reads non-contiguous input", "[ops][conv]") {
  const Tensor base = random_tensor({2, 6, 3, 7}, 30, DType::f32);  // [N, H, C, W]
  const Tensor x = base.permute({0, 2, 1, 3});                      // [N, C, H, W], not contiguous
  REQUIRE_FALSE(x.is_contiguous());
  const Tensor w = random_tensor({4, 3, 3, 3}, 31, DType::f32).permute({0, 1, 3, 2});
  const Conv2dParams p{1, 1, 1, 1, 1, 1};
  EMBER_REQUIRE_CLOSE(conv2d(x, w, Tensor(), p), conv_reference(x, w, Tensor(), p).y, 1e-5, 1e-5);
}

TEST_CASE("gradcheck: conv2d input, weight and bias", "[ops][conv][grad]") {
  const Tensor x = random_tensor({2, 2, 5, 4}, 40).requires_grad_();
  const Tensor w = random_tensor({3, 2, 3, 2}, 41).requires_grad_();
  const Tensor b = random_tensor({3}, 42).requires_grad_();
  for (const Conv2dParams& p :
       {Conv2dParams{1, 1, 1, 1, 1, 1}, Conv2dParams{2, 1, 1, 1, 1, 2}, Conv2dParams{1, 2, 0, 2, 2, 1}}) {
    INFO("stride " << p.stride_h << "," << p.stride_w << " pad " << p.pad_h << "," << p.pad_w << " dilation "
                   << p.dilation_h << "," << p.dilation_w);
    gradcheck([p](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], p); }, {x, w, b});
  }
  const Tensor w1 = random_tensor({3, 2, 1, 1}, 43).requires_grad_();  // pointwise path
  gradcheck([](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], {}); }, {x, w1, b});
}

TEST_CASE("gradcheck: conv2d with only some inputs requiring grad", "[ops][conv][grad]") {
  const Tensor x = random_tensor({2, 2, 4, 4}, 50), w = random_tensor({2, 2, 3, 3}, 51);
  const Tensor b = random_tensor({2}, 52).requires_grad_();
  const Conv2dParams p{1, 1, 1, 1, 1, 1};
  gradcheck([p](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], p); }, {x, w, b});
  const Tensor xg = random_tensor({2, 2, 4, 4}, 53).requires_grad_();
  gradcheck([p](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], Tensor(), p); }, {xg, w});
}

TEST_CASE("conv2d backward over threads equals the per-image sums", "[ops][conv][grad]") {
  // Large enough for the kernels to split the 4 images over threads; each image alone runs on one thread.
  const Tensor x = random_tensor({4, 16, 16, 16}, 60).requires_grad_();
  const Tensor w = random_tensor({16, 16, 3, 3}, 61).requires_grad_();
  const Tensor b = random_tensor({16}, 62).requires_grad_();
  const Tensor dy = random_tensor({4, 16, 16, 16}, 63);
  const Conv2dParams p{1, 1, 1, 1, 1, 1};
  conv2d(x, w, b, p).backward(dy);
  Tensor dw_sum = Tensor::zeros(w.shape(), DType::f64), db_sum = Tensor::zeros(b.shape(), DType::f64);
  std::vector<Tensor> dx_parts;
  for (int64_t n = 0; n < 4; ++n) {
    const Tensor xn = x.detach().narrow(0, n, 1).contiguous().requires_grad_();
    const Tensor wn = w.detach().clone().requires_grad_(), bn = b.detach().clone().requires_grad_();
    conv2d(xn, wn, bn, p).backward(dy.narrow(0, n, 1).contiguous());
    dx_parts.push_back(xn.grad());
    dw_sum = add(dw_sum, wn.grad());
    db_sum = add(db_sum, bn.grad());
  }
  for (int64_t n = 0; n < 4; ++n) EMBER_REQUIRE_CLOSE(x.grad().narrow(0, n, 1), dx_parts[n], 1e-12, 1e-12);
  EMBER_REQUIRE_CLOSE(w.grad(), dw_sum, 1e-12, 1e-12);
  EMBER_REQUIRE_CLOSE(b.grad(), db_sum, 1e-12, 1e-12);
}

TEST_CASE("conv2d rejects bad shapes and names them", "[ops][conv]") {
  const Tensor x = random_tensor({1, 3, 5, 5}, 70, DType::f32);
  CHECK_THROWS_WITH(conv2d(x, random_tensor({2, 4, 3, 3}, 71, DType::f32), Tensor(), {}),
                    Catch::Contains("[1, 3, 5, 5]") && Catch::Contains("[2, 4, 3, 3]") && Catch::Contains("channels"));
  CHECK_THROWS_WITH(
      conv2d(random_tensor({1, 1, 2, 2}, 72, DType::f32), random_tensor({1, 1, 5, 5}, 73, DType::f32), Tensor(),
             {1, 1, 1, 1, 1, 1}),
      Catch::Contains("larger than the padded input") && Catch::Contains("[4, 4]") && Catch::Contains("[5, 5]"));
  CHECK_THROWS_WITH(conv2d(x, random_tensor({2, 3, 3, 3}, 74, DType::f32), random_tensor({3}, 75, DType::f32), {}),
                    Catch::Contains("bias") && Catch::Contains("[3]"));
  CHECK_THROWS_WITH(conv2d(x, random_tensor({2, 3, 3, 3}, 76), Tensor(), {}),
                    Catch::Contains("does not match the input"));
  CHECK_THROWS_WITH(conv2d(x.flatten(0, 1), random_tensor({2, 3, 3, 3}, 77, DType::f32), Tensor(), {}),
                    Catch::Contains("[N, C, H, W]"));
  CHECK_THROWS_WITH(conv2d(x, random_tensor({2, 3, 3, 3}, 78, DType::f32), Tensor(), {0, 1, 0, 0, 1, 1}),
                    Catch::Contains("stride"));
}

TEST_CASE("conv2d runs OpenBLAS kernels for this CPU, not the Prescott fallback", "[ops][conv]") {
  // f64: the im2col + OpenBLAS path (f32 goes to oneDNN when ember is built with it).
  conv2d(random_tensor({1, 1, 3, 3}, 80), random_tensor({1, 1, 3, 3}, 81), Tensor(), {});
  INFO("OpenBLAS core " << kernels::cpu::blas_core_name());
  if (!std::getenv("OPENBLAS_CORETYPE") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    CHECK(kernels::cpu::blas_core_name() != "Prescott");
}
